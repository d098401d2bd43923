"""Hyper-parameter search with Optuna (``aelab tune``).

A search space (:mod:`aelab.studies.search_space`), an objective (any metric of the
catalog, :mod:`aelab.metrics.catalog`: a key such as ``test_mse``, an alias such as
``val_loss`` or a metrics.json path such as ``reconstruction.mse``; its direction by
default the catalog's), TPE sampling seeded per
trial (so a resumed search proposes what the uninterrupted one would have), and median
pruning fed each epoch's validation loss. Every trial is an ordinary run directory ``OUT/trial-0003``
with its training output in ``train.log``.

The study lives in ``OUT/study.db`` (SQLite; any SQLAlchemy URL works), so a killed search
re-run with the same command finishes exactly ``trials`` COMPLETE + PRUNED trials: it counts
the finished ones, fails the trials a dead process on this machine left RUNNING (retrying
their parameters) and asks only for the rest. Every worker holds an ``flock`` on
``OUT/workers/HOST-PID.lock`` while it runs: a worker that finds no other live one on the
study's own SQLite fails every RUNNING trial, even one killed before it was named. Several workers may share one study; a
trial is never trained twice, and a worker that would exceed ``trials`` stops. Trials
left by a dead worker on another machine fail once their heartbeat is stale.

At the end: ``best.toml`` (the best trial's config, for ``aelab train --config``),
``trials.csv`` and the optimisation-history, intermediate-value and parameter-importance
plots as PNG.

``AELAB_TUNE_HOLD=N:PATH`` (a test hook) makes the worker announce trial ``N`` by writing
``PATH`` once the trial is named and its parameters drawn, then hold there, untrained,
until it is killed: a test kills it at that point instead of racing a poller.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from aelab.config import RunConfig
from aelab.data import load_dataset
from aelab.errors import AelabError, ConfigError, TrainingError, check, check_choice
from aelab.evaluation.evaluate import evaluate_run
from aelab.metrics import catalog
from aelab.rundir import CONFIG, atomic_write_text, read_metrics
from aelab.studies.runner import open_log
from aelab.studies.search_space import SearchParam, check_space, trial_config
from aelab.studies.storage import check_storage_url, storage_error
from aelab.studies.tune_page import write_tune_page
from aelab.training import train
from aelab.training.callbacks import Callback, warn_if_test_decides
from aelab.training.trackers import log_finished_run
from aelab.viz.save import save_figure

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    import optuna

Log = Callable[[str], None]
INSTALL = "pip install 'aelab[tune]'"
MANIFEST = "tune.toml"
STUDY_DB = "study.db"
HEARTBEAT_S, GRACE_S = 60, 300


# --------------------------------------------------------------------------- the settings


@dataclass(frozen=True)
class TuneConfig:
    """How the search runs. ``objective``: a catalog key, alias or metrics.json path;
    ``direction``: ``minimize`` or ``maximize``, by default the catalog's for the objective.
    ``storage`` defaults to ``sqlite:///OUT/study.db``."""

    objective: str = "val_loss"
    direction: str | None = None
    trials: int = 20
    timeout: float | None = None
    seed: int = 0
    storage: str | None = None
    study_name: str = "aelab-tune"
    prune: bool = True
    startup_trials: int = 5
    warmup_epochs: int = 0
    evaluate: bool = True  # False: trials are trained only; the objective a training number

    def __post_init__(self) -> None:
        metric = objective_metric(self.objective)
        if self.direction is None:
            if metric.direction is None:
                raise ConfigError(
                    f"objective {self.objective!r} ({metric.key}) is not a score and has no "
                    "direction; pass --direction minimize or maximize, or optimise a score "
                    "(see `aelab metrics`)."
                )
            object.__setattr__(self, "direction", metric.direction)
        check_choice("direction", self.direction, ("minimize", "maximize"))
        check(self.trials >= 1, "trials", self.trials, "an integer >= 1")
        check(self.timeout is None or self.timeout > 0, "timeout", self.timeout, "seconds > 0")
        check(self.startup_trials >= 0, "startup_trials", self.startup_trials, "an integer >= 0")
        check(self.warmup_epochs >= 0, "warmup_epochs", self.warmup_epochs, "an integer >= 0")
        check(
            self.evaluate or metric.section == "run",
            "objective",
            self.objective,
            "val_loss or another training number (section run of `aelab metrics`) when the "
            "trials are not evaluated (--no-eval)",
        )


def objective_metric(objective: str) -> catalog.Metric:
    """The catalog entry of ``objective`` (a key, alias or path): one number of a run."""
    metric = catalog.get(objective)
    if metric.is_pattern:
        raise ConfigError(
            f"objective {objective!r} names a group of values ({metric.path}), not one number; "
            "choose one metric of `aelab metrics`."
        )
    return metric


def objective_value(run_dir: Path, objective: str) -> float:
    """The objective's number in the run's metrics.json."""
    metric = objective_metric(objective)
    value = catalog.lookup(read_metrics(run_dir), metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        written = catalog.SECTIONS[metric.section].written_by
        raise ConfigError(
            f"objective {objective!r} ({metric.path}) is not a number in "
            f"{run_dir / 'metrics.json'}; it is written by {written}."
        )
    return float(value)


class PruningCallback(Callback):
    """Reports each epoch's validation loss (train loss without validation) to the trial,
    negated when maximising, and asks the trainer to stop when the pruner says so."""

    def __init__(self, trial: optuna.Trial, maximize: bool) -> None:
        self.trial = trial
        self.sign = -1.0 if maximize else 1.0
        self.pruned_at: int | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        self.trial.report(self.sign * logs.get("val_loss", logs["train_loss"]), epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.request_stop(f"trial {self.trial.number} pruned (median rule)")


# --------------------------------------------------------------------------- the search


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(f"aelab tune needs optuna, which is not installed; {INSTALL}.") from None
    return optuna


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send stdout and stderr (the trainer's progress, the evaluation) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open_log(path) as f,
        contextlib.redirect_stdout(f),
        contextlib.redirect_stderr(f),
    ):
        yield


def hold_if_asked(number: int) -> None:
    """``AELAB_TUNE_HOLD=N:PATH``: at trial ``N``, write ``PATH`` and wait to be killed
    (bounded at 10 minutes, then the trial goes on), so a test can SIGKILL a worker at a
    point it announced."""
    hold = os.environ.get("AELAB_TUNE_HOLD")
    if not hold:
        return
    at, _, marker = hold.partition(":")
    if int(at) != number:
        return
    Path(marker).write_text(f"{os.getpid()} holds trial {number}\n")
    time.sleep(600)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerRegistry:
    """``OUT/workers/HOST-PID.lock``, each ``flock``-ed by its live worker (the kernel drops
    the lock of a killed process): tells whether any other worker of this study runs here."""

    def __init__(self, out: Path, worker: str) -> None:
        self.folder = out / "workers"
        self.name = f"{worker.replace(':', '-')}.lock"
        self.fd: int | None = None

    def __enter__(self) -> WorkerRegistry:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.folder / self.name, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            (self.folder / self.name).unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None

    def others_alive(self) -> bool:
        """True when another worker holds its lock; the files of dead ones are removed."""
        alive = False
        for path in self.folder.glob("*.lock"):
            if path.name == self.name:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:  # its worker finished meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                alive = True
            else:
                path.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return alive


def trial_seed(seed: int, number: int) -> int:
    """The sampler's seed for trial ``number``: a resumed search proposes what the
    uninterrupted one would. Mixed by SeedSequence: RandomState(0) and RandomState(3) start
    with nearly the same uniform draw (0.549, 0.551), so seed + number would repeat trials."""
    import numpy as np

    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class _Surplus(AelabError):
    """This worker's trial would exceed the requested number: another worker has it."""


@dataclass
class TuneResult:
    out_dir: Path
    finished: int
    best_value: float | None
    best_trial: int | None
    files: dict[str, Path] = field(default_factory=dict)


class Tuner:
    """One worker of a search into ``out_dir``; :meth:`run` trains until the study holds
    ``settings.trials`` finished trials (or the timeout)."""

    def __init__(
        self,
        base: RunConfig,
        space: Sequence[SearchParam],
        out_dir: str | Path,
        settings: TuneConfig,
        *,
        quiet: bool = False,
        log: Log = print,
    ) -> None:
        self.optuna = require_optuna()
        self.base, self.space, self.settings = base, list(space), settings
        self.out = Path(out_dir)
        self.quiet, self.log = quiet, log
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.data_cache: dict[Any, Any] = {}
        self.failures = 0
        self.surplus = False
        self.last_number = -1
        self.fatal: ConfigError | None = None
        check_space(base, self.space)
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_manifest()
        self.study = self._study()
        self._warn_if_test_decides()  # after the errors: a refused search is one line
        self.registry = WorkerRegistry(self.out, self.worker)

    # -- setup ----------------------------------------------------------------------------

    def _warn_if_test_decides(self) -> None:
        """The objective on val_loss, or pruning (on each epoch's val_loss), of a base
        config that validates on the test set (R1): one warning line."""
        s, metric = self.settings, objective_metric(self.settings.objective)
        on_val = [f"objective {s.objective}"] if "val_loss" in metric.key else []
        if s.prune:
            on_val.append("pruning")
        if on_val:
            warn_if_test_decides(self.base, f"tune ({', '.join(on_val)})")

    def _check_manifest(self) -> None:
        """OUT/tune.toml records the base config and the space (a valid tune file); a re-run
        must search the same space from the same base."""
        manifest = {**self.base.to_dict(), "search": {p.key: p.to_table() for p in self.space}}
        path, text = self.out / MANIFEST, tomli_w.dumps(manifest)
        if path.exists():
            if path.read_text(encoding="utf-8") != text:
                raise ConfigError(
                    f"{self.out} holds a search with another base config or space ({path}); "
                    f"re-run with `--config {path}`, or choose another --out."
                )
            return
        atomic_write_text(path, text)

    def _study(self) -> optuna.Study:
        from sqlalchemy.exc import SQLAlchemyError

        optuna, s = self.optuna, self.settings
        url = s.storage or f"sqlite:///{(self.out / STUDY_DB).resolve()}"
        engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
        check_storage_url(url)  # a wrong URL or a damaged file: one line, no retries
        pruner = (
            optuna.pruners.MedianPruner(s.startup_trials, s.warmup_epochs)
            if s.prune
            else optuna.pruners.NopPruner()
        )
        try:
            study = optuna.create_study(
                storage=self._storage(url, engine),
                study_name=s.study_name,
                direction=s.direction,
                pruner=pruner,
                load_if_exists=True,
            )
        except (ImportError, SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
            raise storage_error(url, exc) from exc
        if study.direction.name.lower() != s.direction:
            raise ConfigError(
                f"study {s.study_name!r} in {url} was made to {study.direction.name.lower()}, "
                f"not {s.direction}; keep --direction or use another --study-name."
            )
        return study

    def _storage(self, url: str, engine: dict[str, Any] | None) -> Any:
        """Optuna's RDB storage; workers started together race to create its tables, so
        the loser waits and opens the tables the winner made."""
        from sqlalchemy.exc import IntegrityError, OperationalError

        def open_storage() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
                return self.optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=self.retry(),
                )

        for attempt in range(1, 5):
            try:
                return open_storage()
            except (IntegrityError, OperationalError, self.optuna.exceptions.StorageInternalError):
                time.sleep(0.5 * attempt)  # Optuna wraps some of these in its own error
        return open_storage()  # the last attempt raises what it meets

    def retry(self) -> Callable[[Any, Any], None]:
        """Optuna's callback that re-queues a dead trial's parameters (two retries at most)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
            return self.optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)

    # -- counting -------------------------------------------------------------------------

    def count(self, *names: str) -> int:
        states = tuple(getattr(self.optuna.trial.TrialState, n) for n in names)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def finished(self) -> int:
        return self.count("COMPLETE", "PRUNED")

    def fail_orphans(self) -> None:
        """Fail the RUNNING trials of dead workers and retry their params: at once for a
        process of this machine, after its heartbeat went stale for one elsewhere."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
            self.optuna.storages.fail_stale_trials(self.study)
        TrialState = self.optuna.trial.TrialState
        host = socket.gethostname()
        retry = self.retry()
        # Alone on the study's own SQLite (no --storage), between two trials of its own:
        # every RUNNING trial is a dead process's, even one killed before it was named.
        alone = self.settings.storage is None and not self.registry.others_alive()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
            dead = worker_host == host and pid.isdigit() and not pid_alive(int(pid))
            if not (alone or dead):
                continue
            try:
                self.study.tell(trial.number, state=TrialState.FAIL)
            except (ValueError, RuntimeError):  # another worker failed it first
                continue
            who = f"process {pid}" if pid.isdigit() else "process (killed before it was named)"
            self.log(f"trial {trial.number}: its {who} died; failed, params retried")
            retry(self.study, trial)

    # -- one trial ------------------------------------------------------------------------

    def data(self, cfg: RunConfig) -> Any:
        key = (cfg.data, cfg.train.seed)
        if key not in self.data_cache:
            self.data_cache[key] = load_dataset(cfg.data, seed=cfg.train.seed, progress=False)
        return self.data_cache[key]

    def objective(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", self.worker)  # first: a named trial's death is seen
        self.last_number = trial.number
        TrialState = self.optuna.trial.TrialState
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        trials = self.study.get_trials(deepcopy=False, states=states)
        if sum(t.number < trial.number for t in trials) >= self.settings.trials:
            self.surplus = True
            raise _Surplus(f"trial {trial.number} is not needed: the others make up the count")
        run_dir = self.out / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", run_dir.name)
        values = {p.key: p.suggest(trial) for p in self.space}
        hold_if_asked(trial.number)
        stem = self.base.name or self.base.preset or self.base.model.family
        pruning = PruningCallback(trial, self.settings.direction == "maximize")
        try:
            with output_to(run_dir / "train.log"):
                print(f"# trial {trial.number}: {values}", flush=True)
                cfg = trial_config(self.base, self.space, values)
                cfg = cfg.with_values({"name": f"{stem}-{run_dir.name}"})
                data = self.data(cfg)
                train(cfg, run_dir, data=data, overwrite=True, callbacks=[pruning])
                if pruning.pruned_at is not None:
                    raise self.optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
                if self.settings.evaluate:
                    evaluate_run(run_dir, data=data)  # ends with the trackers' log_run
                elif cfg.train.track:
                    log_finished_run(run_dir, cfg.train.track)
            try:
                return objective_value(run_dir, self.settings.objective)
            except ConfigError as exc:  # a wrong --objective fails every trial: stop now
                self.fatal = exc
                raise
        except AelabError as exc:
            self.failures += 1
            self.log(f"trial {trial.number} failed: {exc}")
            raise

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> TuneResult:
        with self.registry:
            return self._run()

    def _run(self) -> TuneResult:
        from tqdm import tqdm

        s, sampler_class = self.settings, self.optuna.samplers.TPESampler
        start = time.monotonic()
        done = self.finished()
        where = s.storage or self.out / STUDY_DB
        self.log(f"tune: study {s.study_name!r} in {where}: {done}/{s.trials} trials finished")
        self._report_missing_folders()
        # a bar on a terminal, one plain line per trial otherwise (CI logs)
        tty = sys.stderr.isatty()
        off = self.quiet or not tty
        bar = tqdm(total=s.trials, initial=done, desc="trials", unit="trial", disable=off)
        self._show_best(bar)
        while done < s.trials and not self.surplus:
            self.fail_orphans()
            if done + self.count("RUNNING") >= s.trials:
                self.log("tune: the remaining trials are running in other workers")
                break
            if s.timeout is not None and time.monotonic() - start > s.timeout:
                self.log(f"tune: --timeout {s.timeout:g} s reached")
                break
            if self.failures > s.trials:
                raise TrainingError(
                    f"{self.failures} trials failed in this session (see their train.log in "
                    f"{self.out}); fix the search space or the base config."
                )
            self.study.sampler = sampler_class(seed=trial_seed(s.seed, len(self.study.trials)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
                self.study.optimize(self.objective, n_trials=1, catch=(AelabError,))
            if self.fatal is not None:
                raise self.fatal
            now = self.finished()
            bar.update(now - done)
            done = now
            self._show_best(bar)
            if not tty:
                self.log(self._describe(self.last_number, done))
        bar.close()
        return self.write_outputs()

    def _report_missing_folders(self) -> None:
        """One warning line naming the finished trials whose folders are gone (deleted by
        hand); they still count, and best.toml is rebuilt from a missing best's values."""
        State = self.optuna.trial.TrialState
        missing = [
            str(t.user_attrs.get("run_dir"))
            for t in self.study.get_trials(deepcopy=False, states=(State.COMPLETE, State.PRUNED))
            if t.user_attrs.get("run_dir") and not (self.out / t.user_attrs["run_dir"]).is_dir()
        ]
        if missing:
            log.warning(
                "tune: %d finished trial folder%s missing in %s (deleted?): %s; the search "
                "goes on without them",
                len(missing),
                " is" if len(missing) == 1 else "s are",
                self.out,
                ", ".join(missing),
            )

    def _show_best(self, bar: Any) -> None:
        if self.count("COMPLETE") and not bar.disable:
            bar.set_postfix({"best": f"{self.study.best_value:.5g}"}, refresh=True)

    def _describe(self, number: int, done: int) -> str:
        """``trial 3: complete, reconstruction.mse 0.0412 (4/8 finished, best 0.0378)``."""
        trial = self.study.get_trials(deepcopy=False)[number]
        text = f"trial {number}: {trial.state.name.lower()}"
        if trial.state.name == "COMPLETE":
            text += f", {self.settings.objective} {trial.value:.5g}"
        best = f", best {self.study.best_value:.5g}" if self.count("COMPLETE") else ""
        return f"{text} ({done}/{self.settings.trials} finished{best})"

    # -- outputs ----------------------------------------------------------------------------

    def write_outputs(self) -> TuneResult:
        """trials.csv, tune.html, best.toml and the plots (rewritten by each worker as it
        ends)."""
        result = TuneResult(self.out, self.finished(), None, None)
        frame = self.study.trials_dataframe()
        if not frame.empty:
            result.files["trials"] = self.out / "trials.csv"
            atomic_write_text(result.files["trials"], frame.to_csv(index=False))
        result.files["page"] = write_tune_page(
            self.study, self.out, self.settings.objective, log=self.log
        )
        if not self.count("COMPLETE"):
            self.log("tune: no trial has completed yet; no best.toml")
            return result
        best = self.study.best_trial
        result.best_value, result.best_trial = best.value, best.number
        result.files["best"] = self.out / "best.toml"
        atomic_write_text(result.files["best"], self._trial_config_text(best))
        result.files |= self._plots()
        self.log(
            f"tune: {result.finished} trials finished; best {self.settings.objective} "
            f"{best.value:.6g} (trial {best.number}: {best.params}); {result.files['best']}"
        )
        return result

    def _trial_config_text(self, trial: Any) -> str:
        """The config.toml a finished trial saved; when its folder is gone (deleted by
        hand), one warning and the config rebuilt from the base and the trial's values, so
        the study can still be finished and its best.toml written."""
        folder = self.out / str(trial.user_attrs.get("run_dir", f"trial-{trial.number:04d}"))
        try:
            return (folder / CONFIG).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            pass
        self.log(f"tune: best.toml rebuilt from the base config and trial {trial.number}'s values")
        stem = self.base.name or self.base.preset or self.base.model.family
        cfg = self.base.with_values({**trial.params, "name": f"{stem}-{folder.name}"})
        return cfg.to_toml()

    def _plots(self) -> dict[str, Path]:
        import matplotlib.pyplot as plt

        plots = self.optuna.visualization.matplotlib
        files = {}
        for stem, plot in (
            ("optimization_history", plots.plot_optimization_history),
            ("intermediate_values", plots.plot_intermediate_values),
            ("param_importances", plots.plot_param_importances),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
                try:
                    ax = plot(self.study)
                except (ValueError, RuntimeError) as exc:  # e.g. importances of one trial
                    self.log(f"tune: no {stem} plot yet ({exc})")
                    continue
            fig = ax.figure
            files[stem] = save_figure(fig, self.out / f"{stem}.png")
            plt.close(fig)
        return files


def run_tune(
    base: RunConfig,
    space: Sequence[SearchParam],
    out_dir: str | Path,
    settings: TuneConfig = TuneConfig(),
    *,
    quiet: bool = False,
    log: Log = print,
) -> TuneResult:
    """Search ``space`` around ``base`` into ``out_dir`` (resuming the study there)."""
    return Tuner(base, space, out_dir, settings, quiet=quiet, log=log).run()


__all__ = ["PruningCallback", "TuneConfig", "TuneResult", "Tuner", "run_tune"]
