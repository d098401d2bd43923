"""Experiment trackers as training callbacks: TensorBoard and MLflow, by name.

``train.track = ["tensorboard", "mlflow"]`` in a config, or ``--track NAME[=TARGET]`` on
the command line. For every run a tracker logs the resolved config as parameters (dotted
keys), each epoch's train/val loss parts and learning rate, and the run directory as a
tag; ``log_run(run_dir)``, called after the evaluation, adds the numbers of metrics.json
(``reconstruction.mse``, ...) and the figures, report.html, config and history as
artifacts. Runs in a study folder (sweep, family study, tune) nest under the study's
parent run (:func:`study_run`), found by the folder, so subprocess runs nest too.

- ``tensorboard``: event files in ``RUN_DIR/tb`` (``tensorboard --logdir`` a run or a
  study folder: one line per run).
- ``mlflow[=URI]``: a database (``sqlite:///PATH``, ``postgresql://...``) or a tracking
  server (``http://HOST:PORT``, which must answer within seconds); by default
  ``sqlite:///<folder>/mlflow.db`` beside the run directories, with artifacts in
  ``<folder>/mlartifacts``. Never a folder (``./mlruns``, ``file:``): MLflow 3.7 made
  SQLite its default and refuses its file store.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from aelab.config import RunConfig
from aelab.errors import ConfigError, did_you_mean
from aelab.rundir import CONFIG, FINISHED, HISTORY, METRICS, flatten, read_metrics
from aelab.training.callbacks import Callback, Trainer

TB_DIR = "tb"
INSTALL = "pip install 'aelab[track]'"
EXPERIMENT = "aelab"
# Top-level files of a study folder logged as the parent run's artifacts.
STUDY_ARTIFACTS = ("*.html", "*.png", "*.csv", "*.md", "*.toml", "*.json")

# MLflow's tracking stores (a database or a server); not "file": MLflow refuses it now
TRACKING_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")
CONNECT_TIMEOUT_S = 5.0  # a tracking server that does not answer in this time is an error

T = TypeVar("T", bound="type[Tracker]")
_TRACKERS: dict[str, type[Tracker]] = {}


def register_tracker(name: str) -> Callable[[T], T]:
    """Class decorator: ``@register_tracker("tensorboard")``. Names are unique."""

    def decorator(cls: T) -> T:
        if name in _TRACKERS:
            raise ValueError(f"tracker '{name}' is already registered; pick another name.")
        _TRACKERS[name] = cls
        cls.name = name
        return cls

    return decorator


def list_trackers() -> list[str]:
    return sorted(_TRACKERS)


def check_track(specs: Sequence[str]) -> list[str]:
    """``specs`` when every name is a registered tracker and its target one it takes
    (checked before any data loads)."""
    for spec in specs:
        name, _, target = spec.partition("=")
        if name not in _TRACKERS:
            raise ConfigError(
                f"train.track: unknown tracker {name!r}; known: {', '.join(list_trackers())}."
                + did_you_mean(name, _TRACKERS)
            )
        _TRACKERS[name].check_target(target.strip() or None)
    return list(specs)


def create_tracker(spec: str) -> Tracker:
    """A tracker from ``name`` or ``name=target`` (``mlflow=sqlite:///runs/mlflow.db``)."""
    name, _, target = check_track([spec])[0].partition("=")
    return _TRACKERS[name](target.strip() or None)


def create_trackers(specs: Sequence[str], run_dir: str | Path | None) -> list[Tracker]:
    if run_dir is None and specs:
        raise ConfigError(
            f"train.track={list(specs)} needs a run directory; train with one, or set train.track=[]."
        )
    trackers = [create_tracker(spec) for spec in specs]
    for tracker in trackers:
        tracker.prepare(Path(run_dir))
    return trackers


def log_finished_run(run_dir: str | Path, specs: Sequence[str]) -> None:
    """After the evaluation: every tracker of ``specs`` logs the run's final numbers and
    files. Safe to call again after a re-evaluation."""
    for tracker in create_trackers(specs, run_dir):
        tracker.log_run(Path(run_dir))


@contextlib.contextmanager
def study_run(
    out_dir: str | Path, specs: Sequence[str], *, kind: str, params: dict[str, Any]
) -> Iterator[None]:
    """The parent run of a study whose runs live in ``out_dir/<name>``: the runs started
    inside nest under it; on exit it gets the folder's comparison files as artifacts."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trackers = [create_tracker(spec) for spec in dict.fromkeys(specs)]
    for tracker in trackers:
        tracker.start_study(out, kind, params)
    ok = False
    try:
        yield
        ok = True
    finally:
        for tracker in trackers:
            tracker.end_study(out, ok)


# --------------------------------------------------------------------------- what is logged


def require(module: str, package: str) -> ModuleType:
    """Import ``module`` or say in one line which extra installs ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"train.track: {package} tracking needs the {package} package, which is not "
            f"installed; {INSTALL}."
        ) from None


def flat_params(config: RunConfig) -> dict[str, str]:
    """The resolved config as ``{"model.latent_dim": "32", ...}`` (lists as text)."""
    return {k: str(v) for k, v in sorted(flatten(config.to_dict()).items())}


def final_metrics(run_dir: Path) -> dict[str, float]:
    """Every number of metrics.json under its dotted key (``reconstruction.mse``)."""
    flat = flatten(read_metrics(run_dir))
    return {
        k: float(v)
        for k, v in sorted(flat.items())
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
    }


def epochs_done(run_dir: Path) -> int:
    return int(read_metrics(run_dir).get("run", {}).get("epochs_completed") or 0)


def scalar_name(key: str) -> str:
    """History column to a grouped name: ``train_loss`` -> ``train/loss``."""
    if key.startswith(("train_", "val_")):
        return key.replace("_", "/", 1)
    return {"seconds": "time/epoch_seconds"}.get(key, key)


class Tracker(Callback):
    """A callback that mirrors a run into an experiment tracker. ``target`` is the text
    after ``=`` in the spec (an MLflow URI), or None."""

    name: ClassVar[str] = ""

    def __init__(self, target: str | None = None) -> None:
        self.check_target(target)
        self.target = target

    @classmethod
    def check_target(cls, target: str | None) -> None:
        """Raise a ConfigError unless this tracker takes ``target`` (no I/O: a syntax check)."""

    def prepare(self, run_dir: Path) -> None:
        """Slow set-up (opening a store) before training starts, outside the run's time."""

    def log_run(self, run_dir: Path) -> None:
        """Log metrics.json's numbers and the run's files (after the evaluation)."""

    def start_study(self, out_dir: Path, kind: str, params: dict[str, Any]) -> None:
        """Open the parent run of a study in ``out_dir`` (trackers with nesting only)."""

    def end_study(self, out_dir: Path, ok: bool) -> None:
        """Close the parent run opened by :meth:`start_study`."""


# --------------------------------------------------------------------------- TensorBoard


@register_tracker("tensorboard")
class TensorBoardTracker(Tracker):
    """Scalars per epoch, then hyper-parameters with the final metrics and the figures,
    in ``RUN_DIR/tb``."""

    def __init__(self, target: str | None = None) -> None:
        super().__init__(target)
        self.writer_class = require("torch.utils.tensorboard", "tensorboard").SummaryWriter
        self.writer: Any = None

    @classmethod
    def check_target(cls, target: str | None) -> None:
        if target:
            raise ConfigError(
                f"train.track: 'tensorboard={target}' takes no target (it writes into "
                "RUN_DIR/tb); use 'tensorboard'."
            )

    def on_train_start(self, trainer: Trainer) -> None:
        self.writer = self.writer_class(log_dir=str(Path(trainer.run_dir) / TB_DIR))
        if trainer.state.epoch == 0:
            self.writer.add_text("config", f"```toml\n{trainer.config.to_toml()}```")

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            if key != "epoch":
                self.writer.add_scalar(scalar_name(key), value, epoch)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        self.writer.close()

    def log_run(self, run_dir: Path) -> None:
        import numpy as np
        from PIL import Image

        config = RunConfig.load(run_dir / CONFIG)
        step = epochs_done(run_dir)
        with self.writer_class(log_dir=str(run_dir / TB_DIR)) as writer:
            metrics = {f"final/{k}": v for k, v in final_metrics(run_dir).items()}
            # run_name "." keeps the hparams in the run's own folder (not a timestamped one)
            writer.add_hparams(flat_params(config), metrics, run_name=".", global_step=step)
            for png in sorted((run_dir / "figures").glob("*.png")):
                image = np.asarray(Image.open(png).convert("RGB"))
                writer.add_image(f"figures/{png.stem}", image, step, dataformats="HWC")


# --------------------------------------------------------------------------- MLflow


def default_store(folder: Path) -> str:
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}"


def sqlite_artifacts(uri: str) -> str | None:
    """Artifacts of a SQLite store go beside its file, not into the working directory."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()


def check_tracking_uri(uri: str) -> None:
    """A tracking URI MLflow serves: a database (``sqlite:///PATH``, ``postgresql://...``)
    or a server (``http://HOST:PORT``); not a folder (MLflow refuses its file store)."""
    scheme = "databricks" if uri == "databricks" else urlsplit(uri).scheme.lower()
    works = "use sqlite:///PATH/mlflow.db or a tracking server http://HOST:PORT"
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:2] == ":"):  # C:\...
        raise ConfigError(
            f"train.track: mlflow={uri} is a folder (MLflow's file store, which MLflow "
            f"refuses now); {works} (`mlflow migrate-filestore` converts an old folder)."
        )
    if scheme.partition("+")[0] not in TRACKING_SCHEMES:
        raise ConfigError(
            f"train.track: mlflow={uri}: unknown scheme {scheme!r}; expected one of "
            f"{', '.join(TRACKING_SCHEMES)}: {works}." + did_you_mean(scheme, TRACKING_SCHEMES)
        )
    if scheme in ("http", "https") and not urlsplit(uri).hostname:
        raise ConfigError(f"train.track: mlflow={uri} names no host; {works}.")


def check_server(uri: str, timeout: float | None = None) -> None:
    """A tracking server answers within ``timeout`` seconds (any HTTP answer counts): an
    unreachable one is one line before training, not minutes of MLflow's retries."""
    import urllib.error
    import urllib.request

    url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?experiment_name={EXPERIMENT}"
    seconds = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        with urllib.request.urlopen(url, timeout=seconds):
            return
    except urllib.error.HTTPError:  # it answered (an error status is MLflow's to report)
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(
            f"train.track: the MLflow tracking server {uri} did not answer within {seconds:g} s "
            f"({reason}); start it (mlflow server --host HOST --port PORT), check the address, "
            "or track to sqlite:///PATH/mlflow.db."
        ) from None


@register_tracker("mlflow")
class MlflowTracker(Tracker):
    """One MLflow run per run directory (tag ``aelab.run_dir``), in experiment ``aelab``;
    a resumed run continues its MLflow run."""

    def __init__(self, target: str | None = None) -> None:
        super().__init__(target)
        self.mlflow = require("mlflow", "mlflow")
        self.client: Any = None
        self.experiment_id = ""
        self.run_id: str | None = None
        self.study_id: str | None = None

    @classmethod
    def check_target(cls, target: str | None) -> None:
        if target:
            check_tracking_uri(target)

    # -- store, experiment, runs ------------------------------------------------------

    def prepare(self, run_dir: Path) -> None:
        self.connect(run_dir.parent)  # a new SQLite store migrates its schema: seconds

    def connect(self, folder: Path) -> None:
        """The client of the URI (default: the store in ``folder``) and the experiment."""
        uri = self.target or default_store(folder)
        if self.client is not None and self.client.tracking_uri == uri:
            return
        if urlsplit(uri).scheme.lower() in ("http", "https"):
            check_server(uri)
        client = self.mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            # another process may create it first
            with contextlib.suppress(self.mlflow.exceptions.MlflowException):
                client.create_experiment(EXPERIMENT, sqlite_artifacts(uri))
            experiment = client.get_experiment_by_name(EXPERIMENT)
        self.client, self.experiment_id = client, experiment.experiment_id

    def find(self, tag: str, path: Path) -> str | None:
        """The newest run whose ``tag`` names ``path``."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{tag}` = '{path.resolve()}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def create(self, name: str, tags: dict[str, str], params: dict[str, str]) -> str:
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        items = [self.mlflow.entities.Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(run.info.run_id, params=items[i : i + 100])
        return run.info.run_id

    def open_run(self, run_dir: Path, config: RunConfig, *, reuse: bool) -> str:
        """The MLflow run of ``run_dir``: the existing one when ``reuse``, else a new one
        (nested under the study of its folder, when there is one)."""
        self.connect(run_dir.parent)
        if reuse and (run_id := self.find("aelab.run_dir", run_dir)):
            return run_id
        tags = {"aelab.run_dir": str(run_dir.resolve())}
        if parent := self.find("aelab.study_dir", run_dir.parent):
            tags["mlflow.parentRunId"] = parent
        return self.create(run_dir.name, tags, flat_params(config))

    def log_metrics(self, run_id: str, values: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        metrics = [self.mlflow.entities.Metric(k, v, now, step) for k, v in values.items()]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i : i + 1000])

    # -- callback -----------------------------------------------------------------------

    def on_train_start(self, trainer: Trainer) -> None:
        run_dir = Path(trainer.run_dir)
        self.run_id = self.open_run(run_dir, trainer.config, reuse=trainer.state.epoch > 0)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        values = {k: float(v) for k, v in logs.items() if k != "epoch"}
        self.log_metrics(self.run_id, values, epoch)

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        state = {"interrupted": "KILLED", "stopped": "KILLED", "diverged": "FAILED"}
        self.client.set_terminated(self.run_id, state.get(status, "FINISHED"))

    def log_run(self, run_dir: Path) -> None:
        config = RunConfig.load(run_dir / CONFIG)
        run_id = self.open_run(run_dir, config, reuse=True)
        self.log_metrics(run_id, final_metrics(run_dir), epochs_done(run_dir))
        for name in (CONFIG, HISTORY, METRICS, "report.html"):
            if (run_dir / name).exists():
                self.client.log_artifact(run_id, str(run_dir / name))
        if (run_dir / "figures").is_dir():
            self.client.log_artifacts(run_id, str(run_dir / "figures"), "figures")
        if read_metrics(run_dir).get("run", {}).get("status") in FINISHED:
            self.client.set_terminated(run_id, "FINISHED")

    # -- studies ------------------------------------------------------------------------

    def start_study(self, out_dir: Path, kind: str, params: dict[str, Any]) -> None:
        self.connect(out_dir)
        self.study_id = self.find("aelab.study_dir", out_dir)
        if self.study_id is None:
            tags = {"aelab.study_dir": str(out_dir.resolve()), "aelab.kind": kind}
            self.study_id = self.create(out_dir.name, tags, {k: str(v) for k, v in params.items()})

    def end_study(self, out_dir: Path, ok: bool) -> None:
        for pattern in STUDY_ARTIFACTS:
            for path in sorted(out_dir.glob(pattern)):
                self.client.log_artifact(self.study_id, str(path))
        self.client.set_terminated(self.study_id, "FINISHED" if ok else "FAILED")


__all__ = [
    "MlflowTracker",
    "TensorBoardTracker",
    "Tracker",
    "check_track",
    "create_tracker",
    "create_trackers",
    "list_trackers",
    "log_finished_run",
    "register_tracker",
    "study_run",
]
