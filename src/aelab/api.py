"""The Python API: ``train`` (a notebook-friendly run), ``build_model`` and R5's ``autoencoder``.

``train(config | preset, model=..., data=..., out=..., **overrides) -> Run`` trains,
evaluates and returns the run (model, history, metrics, run directory) in one call; the
plain loop underneath is :func:`aelab.training.train`.

``build_model`` accepts a RunConfig, a ModelConfig or a preset name; the input shape comes
from (in order) ``model.input_shape``, the ``input_shape`` argument, or the dataset name
(its registered source in :mod:`aelab.data.sources`, adjusted by ``data.image_size`` /
``data.mode``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aelab import data as data_package
from aelab.config import ModelConfig, RunConfig, TrainConfig
from aelab.data.config import dataset_shape
from aelab.data.sources import SOURCES
from aelab.data.splits import DatasetSplits
from aelab.data.stream import StreamSplits
from aelab.errors import ConfigError, did_you_mean
from aelab.evaluation.evaluate import evaluate_run
from aelab.models import Autoencoder, autoencoder, create_model
from aelab.models.base import check_input_shape
from aelab.presets import load_preset
from aelab.reuse import inference
from aelab.reuse.detector import Detector, scoring_checkpoint
from aelab.reuse.embed import run_data
from aelab.reuse.inference import html_table
from aelab.reuse.probe import probe_model
from aelab.rundir import default_run_dir, read_metrics
from aelab.training import Callback, History
from aelab.training import train as train_loop
from aelab.training.callbacks import check_callbacks

# dataset name -> (channels, height, width) of the built-in sources
KNOWN_SHAPES: dict[str, tuple[int, int, int]] = {name: s.shape for name, s in SOURCES.items()}


def build_model(
    config: RunConfig | ModelConfig | str, input_shape: tuple[int, int, int] | None = None
) -> Autoencoder:
    """Build the model of ``config`` (a RunConfig, a ModelConfig or a preset name).

    ``input_shape`` (C, H, W) is needed only when the config does not set
    ``model.input_shape`` and its dataset's shape is not known in advance.
    """
    if isinstance(config, str):
        config = load_preset(config)
    model_cfg = config.model if isinstance(config, RunConfig) else config
    if model_cfg.input_shape is None:
        shape = input_shape
        if shape is None and isinstance(config, RunConfig):
            shape = dataset_shape(config.data)
        if shape is None:
            raise ConfigError(
                "model.input_shape is not set and cannot be inferred: pass "
                "input_shape=(channels, height, width) to build_model, or set "
                f"model.input_shape (known datasets: {', '.join(SOURCES)})."
            )
        check_input_shape(shape)
        model_cfg = dataclasses.replace(model_cfg, input_shape=tuple(int(s) for s in shape))
    return create_model(model_cfg)


# --------------------------------------------------------------------------- train


@dataclass
class Run:
    """A finished run, as :func:`train` returns it.

    ``model``: the trained :class:`Autoencoder` (eval mode, the last epoch's weights unless
    ``train.restore_best``); ``history``: a :class:`~aelab.training.History`, one row per
    epoch (``run.history[-1]["val_loss"]``) read by column too (``run.history["val_loss"]``,
    an (epochs,) array; ``pandas.DataFrame(run.history)`` if you like), the same shape
    :func:`aelab.training.train` returns;
    ``metrics``: metrics.json as a dict (``run``, and after evaluation ``reconstruction``,
    ``code``, ``pca``); ``run_dir``: where everything was written.
    """

    model: Autoencoder
    config: RunConfig
    history: History
    metrics: dict[str, Any]
    run_dir: Path
    status: str

    def _summary(self) -> dict[str, str]:
        rows = {"model": self.model.describe(), "status": self.status}
        if "epoch" in self.history:
            rows["epochs"] = str(int(self.history[-1]["epoch"]))
        for column in ("train_loss", "val_loss"):
            if column in self.history:
                rows[column] = f"{float(self.history[column][-1]):.4f}"
        rec = self.metrics.get("reconstruction", {})
        for metric in ("mse", "bce", "ssim"):
            if metric in rec:
                rows[f"test {metric}"] = f"{float(rec[metric]):.4f}"
        rows["run_dir"] = str(self.run_dir)
        return rows

    def __repr__(self) -> str:
        return "Run(" + ", ".join(f"{k}={v}" for k, v in self._summary().items()) + ")"

    def _repr_html_(self) -> str:
        return html_table("Run", self._summary())


_TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))


def _dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """``model__latent_dim=16`` -> ``model.latent_dim`` (scikit-learn's nested-parameter
    spelling); a bare training field (``epochs=2``, ``lr=1e-3``) -> ``train.<field>``."""
    out = {}
    for key, value in overrides.items():
        if "__" in key:
            out[key.replace("__", ".")] = value
        elif key in _TRAIN_FIELDS:
            out[f"train.{key}"] = value
        else:
            raise ConfigError(
                f"train() got an unknown override {key}={value!r}; expected a training field "
                f"({', '.join(_TRAIN_FIELDS)}) or section__field (model__latent_dim=16)."
                + did_you_mean(key, _TRAIN_FIELDS)
            )
    return out


def _as_config(config: RunConfig | str | Path | None, model: Autoencoder | None) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, Path) or (isinstance(config, str) and config.endswith(".toml")):
        return RunConfig.load(config)
    if isinstance(config, str):
        return load_preset(config)
    if config is None and model is not None:
        return RunConfig(model=model.config)
    raise TypeError(
        f"train(config={config!r}): expected a RunConfig, a preset name, a .toml path, or "
        "config=None with model=."
    )


def _as_splits(data: Any, test_data: Any = None) -> DatasetSplits | StreamSplits | None:
    """``data`` (and its ``test_data``) as splits: through ``aelab.data.as_splits`` where
    the data package provides it (arrays, datasets, loaders), else DatasetSplits only."""
    if data is None:
        if test_data is not None:
            raise ConfigError("train(test_data=...) needs data= too: the data it is the test of.")
        return None
    if isinstance(data, DatasetSplits) and test_data is None:
        return data
    convert = getattr(data_package, "as_splits", None)
    if convert is not None:
        return convert(data, test=test_data)
    raise TypeError(
        f"train(data=...) takes an aelab DatasetSplits, found {type(data).__name__}; build one "
        "with aelab.load_dataset(...) or DatasetSplits(name, train=Split(images), test=...)."
    )


def train(
    config: RunConfig | str | Path | None = None,
    *,
    model: Autoencoder | None = None,
    data: Any = None,
    test_data: Any = None,
    callbacks: Sequence[Callback] = (),
    out: str | Path | None = None,
    evaluate: bool = True,
    progress: bool = True,
    overwrite: bool = False,
    **overrides: Any,
) -> Run:
    """Train a run and return it as a :class:`Run`, from a notebook or a script.

    ``config``: a RunConfig, a preset name (``"r1-fashion-sparse"``) or a ``.toml`` path;
    ``model``: a model you built (``Autoencoder.from_modules(...)``, or any registered
    family) to train in place of ``config.model``; ``data``: the data to train on
    instead of ``config.data``'s dataset: DatasetSplits, arrays, tensors, a torch Dataset,
    IterableDataset or DataLoader (:func:`aelab.data.as_splits`; torch sources are streamed,
    and evaluated batch by batch); ``test_data``: its test split, in place of the 10% held
    out (required to evaluate a DataLoader or IterableDataset); ``out``: the run directory
    (default ``runs/<name>-<time>``); ``evaluate``: test metrics, figures and report.html
    afterwards; ``progress``: a progress bar (a widget in Jupyter). ``overrides``: config
    values, ``epochs=2`` for a training field or ``model__latent_dim=16`` for any other.

        run = aelab.train("r1-fashion-sparse", epochs=5, model__latent_dim=16, out="runs/r1")
        run.history["val_loss"], run.metrics["reconstruction"]["mse"], run.model
    """
    callbacks = check_callbacks(callbacks)  # before the data is read
    cfg = _as_config(config, model)
    if model is not None:
        cfg = dataclasses.replace(cfg, model=model.config)
    if overrides:
        cfg = cfg.with_values(_dotted(overrides))
        if model is not None and cfg.model != model.config:
            raise ConfigError(
                "model overrides cannot change a model passed with model=; build the model "
                "with the values you want instead."
            )
    splits = _as_splits(data, test_data)
    if evaluate and isinstance(splits, StreamSplits) and splits.test is None:
        raise ConfigError(
            f"{splits.name}: a {type(splits.train.data).__name__} cannot be split, so there is "
            "no test split to evaluate on; pass test_data= (a Dataset, IterableDataset or "
            "DataLoader of test samples), or evaluate=False."
        )
    run_dir = Path(out) if out is not None else default_run_dir(cfg)
    result = train_loop(
        cfg,
        run_dir,
        data=splits,
        overwrite=overwrite,
        quiet=not progress,
        callbacks=callbacks,
        model=model,
    )
    if evaluate:
        # evaluate a copy: it loads the best checkpoint, the returned model keeps its weights
        given = copy.deepcopy(result.model) if model is not None else None
        evaluate_run(run_dir, data=splits, quiet=not progress, model=given)
    return Run(
        model=result.model,
        config=result.config,
        history=result.history,
        metrics=read_metrics(run_dir),
        run_dir=run_dir,
        status=result.status,
    )


# --------------------------------------------------------------------------- the other commands


class TrainedModel(inference.TrainedModel):
    """A trained autoencoder, as :func:`load` returns it: ``encode``, ``decode``,
    ``reconstruct``, ``score`` and ``sample`` (numpy or tensors in, numpy out; see
    :class:`aelab.reuse.inference.TrainedModel`) plus the run's uses, ``probe`` and ``export``."""

    def probe(
        self,
        data: DatasetSplits | None = None,
        *,
        train_limit: int = 0,
        random_state: int = 0,
        progress: bool = False,
        cache: bool = True,
    ) -> dict[str, dict[str, float]]:
        """Linear, k-NN and k-means probes of the codes against PCA and raw pixels
        (representation -> probe -> score), fitted on ``data``'s train split and scored on its
        test split; ``data`` defaults to the run's dataset, split as in training. Writes
        nothing (:func:`aelab.probe` on the run directory also records the result)."""
        if data is None:
            if self.config is None:
                raise ConfigError(
                    "probe() needs data=: this model has no run config to read its dataset "
                    "from; pass the splits of aelab.load_dataset(...)."
                )
            data = run_data(self.config, progress=progress)
        return probe_model(
            self, data, train_limit=train_limit, random_state=random_state, progress=progress,
            cache=cache,
        )  # fmt: skip

    def export(
        self, path: str | Path, *, format: str = "onnx", part: str = "full", detector: Any = None
    ) -> Path:
        """Write ``part`` ("encoder" | "decoder" | "full" | "scorer") to ``path`` as ONNX or
        TorchScript; the scorer's calibrated detector is read from the run when not given."""
        if part == "scorer" and detector is None and self.run_dir is not None:
            detector = Detector.load(self.run_dir)
        return super().export(path, format=format, part=part, detector=detector)


def load(
    run_dir: str | Path,
    *,
    checkpoint: str = "best",
    device: str = "cpu",
    batch_size: int = 1024,
    model: Autoencoder | None = None,
) -> TrainedModel:
    """Load the ``checkpoint`` ("best" falls back to "last") of the run in ``run_dir``.

    ``model``: load the weights into this model (required for a run of your own modules,
    ``Autoencoder.from_modules``: pass one built from the same modules)."""
    return inference.load(
        run_dir,
        checkpoint=checkpoint,
        device=device,
        batch_size=batch_size,
        model=model,
        cls=TrainedModel,
    )


def export(
    run: str | Path | inference.TrainedModel | Autoencoder,
    path: str | Path,
    *,
    format: str = "onnx",
    part: str = "full",
    checkpoint: str | None = None,
) -> Path:
    """``aelab export``: write ``part`` ("encoder" | "decoder" | "full" | "scorer") of a run
    (its directory, a loaded model or an :class:`Autoencoder`) to ``path`` as ONNX or
    TorchScript; the scorer needs the run's detector.json (a run directory or ``load``).
    ``checkpoint``: None is "best", or for the scorer the one its detector was calibrated on."""
    if isinstance(run, Autoencoder):
        run = TrainedModel(run)
    elif not isinstance(run, inference.TrainedModel):
        if part == "scorer":
            checkpoint = scoring_checkpoint(run, checkpoint)
        run = load(run, checkpoint=checkpoint or "best")
    elif not isinstance(run, TrainedModel):
        run = TrainedModel(run.model, run.config, device=run.device, run_dir=run.run_dir)
    return run.export(path, format=format, part=part)


__all__ = [
    "KNOWN_SHAPES",
    "Run",
    "TrainedModel",
    "autoencoder",
    "build_model",
    "dataset_shape",
    "export",
    "load",
    "train",
]
