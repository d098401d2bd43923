"""aelab: an autoencoder lab for PyTorch."""

from __future__ import annotations

__version__ = "0.1.0"

from aelab.errors import AelabError, CheckpointError, ConfigError, DataError, TrainingError

__all__ = [
    "AelabError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "TrainingError",
    "__version__",
]
