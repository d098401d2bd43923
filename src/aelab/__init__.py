"""aelab: an autoencoder lab for PyTorch.

The top-level names are imported lazily so ``import aelab`` (and ``aelab --help``)
stays fast: torch is loaded only when a model, a run or a dataset is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from aelab.errors import (
    AelabError,
    CheckpointError,
    ConfigError,
    DataError,
    DependencyError,
    TrainingError,
)

# public name -> (module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "load": ("aelab.reuse.inference", "load"),
    "anomaly_maps": ("aelab.reuse.detector", "anomaly_maps"),
    "build_model": ("aelab.api", "build_model"),
    "train": ("aelab.api", "train"),
    "Run": ("aelab.api", "Run"),
    "Autoencoder": ("aelab.models.base", "Autoencoder"),
    "ModelConfig": ("aelab.models.base", "ModelConfig"),
    "LossOutput": ("aelab.models.base", "LossOutput"),
    "register_model": ("aelab.models.registry", "register_model"),
    "load_dataset": ("aelab.data", "load_dataset"),
    "load_preset": ("aelab.presets", "load_preset"),
    "RunConfig": ("aelab.config", "RunConfig"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "AelabError",
    "Autoencoder",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DependencyError",
    "LossOutput",
    "ModelConfig",
    "Run",
    "RunConfig",
    "TrainingError",
    "__version__",
    "anomaly_maps",
    "build_model",
    "load",
    "load_dataset",
    "load_preset",
    "register_model",
    "train",
]
