"""aelab: an autoencoder lab for PyTorch.

Every command of the ``aelab`` CLI has a function here (the CLI is a thin layer over them):
``train``, ``evaluate``, ``render_report`` (``aelab report``), ``compare``, ``sweep``,
``family_study``, ``tune``, ``probe``, ``cluster``, ``anomaly``, ``embed``, ``export``,
``metrics_catalog`` (``aelab metrics``), ``load_dataset``/``list_datasets`` (``aelab data``),
``load_preset``/``list_presets`` (``aelab presets``); ``aelab serve``/``explore`` are servers
(``aelab.web``). ``load(run_dir)`` gives a trained model back. ``__all__`` is the API.

The names are imported lazily so ``import aelab`` (and ``aelab --help``) stays fast: torch is
loaded only when a model, a run or a dataset is asked for.
"""

import importlib as _importlib

from aelab.errors import (
    AelabError,
    CheckpointError,
    ConfigError,
    DataError,
    DependencyError,
    TrainingError,
)

__version__ = "0.1.0"

# public name -> (module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    # the commands
    "train": ("aelab.api", "train"),
    "evaluate": ("aelab.evaluation.evaluate", "evaluate_run"),
    "render_report": ("aelab.report.render", "render_report"),
    "compare": ("aelab.studies.compare", "compare_runs"),
    "sweep": ("aelab.studies.sweep", "run_sweep"),
    "family_study": ("aelab.studies.family_study", "run_family_study"),
    "tune": ("aelab.studies.tune", "run_tune"),
    "probe": ("aelab.reuse.probe", "probe_run"),
    "cluster": ("aelab.reuse.cluster", "cluster_run"),
    "anomaly": ("aelab.reuse.anomaly", "run_protocol"),
    "embed": ("aelab.reuse.embed", "embed_run"),
    "export": ("aelab.api", "export"),
    "metrics_catalog": ("aelab.metrics.catalog", "select"),
    "load_dataset": ("aelab.data", "load_dataset"),
    "list_datasets": ("aelab.data.sources", "dataset_names"),
    "load_preset": ("aelab.presets", "load_preset"),
    "list_presets": ("aelab.presets", "list_presets"),
    # models, runs and configs
    "load": ("aelab.api", "load"),
    "TrainedModel": ("aelab.api", "TrainedModel"),
    "Run": ("aelab.api", "Run"),
    "History": ("aelab.training.history", "History"),
    "build_model": ("aelab.api", "build_model"),
    "autoencoder": ("aelab.api", "autoencoder"),
    "anomaly_maps": ("aelab.reuse.detector", "anomaly_maps"),
    "Autoencoder": ("aelab.models.base", "Autoencoder"),
    "ModelConfig": ("aelab.models.base", "ModelConfig"),
    "LossOutput": ("aelab.models.base", "LossOutput"),
    "register_model": ("aelab.models.registry", "register_model"),
    "list_models": ("aelab.models.registry", "list_models"),
    "RunConfig": ("aelab.config", "RunConfig"),
    "DataConfig": ("aelab.config", "DataConfig"),
    "TrainConfig": ("aelab.config", "TrainConfig"),
}

__all__ = [  # every name of _LAZY, the errors and the version (tests/unit/test_public_api.py)
    "AelabError",
    "Autoencoder",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DataError",
    "DependencyError",
    "History",
    "LossOutput",
    "ModelConfig",
    "Run",
    "RunConfig",
    "TrainConfig",
    "TrainedModel",
    "TrainingError",
    "__version__",
    "anomaly",
    "anomaly_maps",
    "autoencoder",
    "build_model",
    "cluster",
    "compare",
    "embed",
    "evaluate",
    "export",
    "family_study",
    "list_datasets",
    "list_models",
    "list_presets",
    "load",
    "load_dataset",
    "load_preset",
    "metrics_catalog",
    "probe",
    "register_model",
    "render_report",
    "sweep",
    "train",
    "tune",
]


def __getattr__(name: str) -> object:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}") from None
    value = getattr(_importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
