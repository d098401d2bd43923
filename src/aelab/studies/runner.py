"""One scheduler for many runs: named configs in, finished and evaluated run directories out.

``run_configs`` looks at each run directory once (:func:`run_state`), skips the finished
ones and hands the rest to an :class:`Executor`, showing one progress bar over them. The
scheduling lives here only; an executor says *where* the runs happen:
:class:`LocalExecutor` trains them in this process (``jobs=1``) or as ``python -m
aelab.studies.worker`` subprocesses (``jobs > 1``), and
``aelab.studies.ray_executor.RayExecutor`` does each one as a Ray task. Every subprocess
writes its output to ``RUN/train.log`` (:func:`run_subprocess`). No run starts through the
``aelab`` command line: the studies do not depend on it.
"""

from __future__ import annotations

import enum
import errno
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from tqdm import tqdm

from aelab.config import RunConfig, with_input_shape
from aelab.data import load_dataset
from aelab.errors import AelabError, CheckpointError, ConfigError, TrainingError
from aelab.evaluation.evaluate import evaluate_run
from aelab.metrics import catalog
from aelab.metrics.catalog import DEFAULT_RANK, Metric
from aelab.rundir import (
    CHECKPOINTS,
    CONFIG,
    TRAIN_LOG,
    check_same_run,
    holds_run,
    is_complete,
    now_iso,
    read_metrics,
)
from aelab.training import train
from aelab.training.checkpoint import STATE_FILE

Log = Callable[[str], None]


def open_log(path: Path) -> IO[str]:
    """``path`` (a run's ``train.log``) opened to append, never through a symlink: a link
    planted there is refused as the checkpoints' paths are, not followed."""
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CheckpointError(
                f"{path} is a symbolic link; aelab writes logs only to plain files: remove it."
            ) from None
        raise
    return os.fdopen(fd, "a", encoding="utf-8")


def echo(msg: str) -> None:
    """The default log: one line to stdout, flushed, above the progress bar if one shows."""
    tqdm.write(msg)
    sys.stdout.flush()


class RunState(str, enum.Enum):
    """What a run directory needs before its run counts as finished and evaluated."""

    DONE = "done"  # finished and evaluated: skipped
    EVALUATE = "evaluate"  # trained, not evaluated
    RESUME = "resume"  # a checkpoint to continue from (or a finished run to extend)
    RETRAIN = "retrain"  # a broken or partial run to replace
    TRAIN = "train"  # nothing there yet

    def __str__(self) -> str:
        return self.value


def check_finished_run(run_dir: Path, cfg: RunConfig) -> RunConfig:
    """The saved config of the finished run in ``run_dir``; a ConfigError when it was made
    from a config other than ``cfg`` (fields that only say how it ran aside, as for resume)."""

    saved = RunConfig.load(run_dir / CONFIG)
    wanted = cfg
    if cfg.model.input_shape is None and saved.model.input_shape is not None:
        wanted = with_input_shape(cfg, saved.model.input_shape)
    try:
        check_same_run(saved, wanted, run_dir)
    except CheckpointError as exc:
        raise ConfigError(f"{exc} (delete that run directory to retrain it)") from None
    if saved.train.epochs > cfg.train.epochs:
        raise ConfigError(
            f"{run_dir} holds a finished run of {saved.train.epochs} epochs, more than the "
            f"{cfg.train.epochs} asked for; use another --out, or delete it to retrain it."
        )
    return saved


def run_state(run_dir: Path, cfg: RunConfig) -> RunState:
    """What the run of ``cfg`` in ``run_dir`` needs. A finished run made from a different
    config is an error, not a skip."""
    if not holds_run(run_dir):
        return RunState.TRAIN
    has_state = (run_dir / CHECKPOINTS / STATE_FILE).exists() and (run_dir / CONFIG).exists()
    partial = RunState.RESUME if has_state else RunState.RETRAIN
    if not (is_complete(run_dir) and (run_dir / CONFIG).exists()):
        return partial
    saved = check_finished_run(run_dir, cfg)
    if not any((run_dir / CHECKPOINTS).glob("*.safetensors")):
        return RunState.RETRAIN
    if saved.train.epochs < cfg.train.epochs:
        return partial
    return RunState.DONE if "reconstruction" in read_metrics(run_dir) else RunState.EVALUATE


@dataclass(frozen=True)
class RunTask:
    """One run to do: its name, config, directory and what it needs."""

    name: str
    cfg: RunConfig
    run_dir: Path
    state: RunState


class Executor(Protocol):
    """Where runs happen. ``map`` does every task and yields ``(name, error)`` as each ends,
    ``error`` None on success, else one line saying why it failed."""

    def map(self, tasks: Sequence[RunTask]) -> Iterator[tuple[str, str | None]]: ...


@dataclass
class LocalExecutor:
    """Runs on this machine: in this process when ``jobs`` is 1 (each dataset loaded once),
    else ``jobs`` ``python -m aelab.studies.worker`` subprocesses at once, each with ``cpu_count //
    jobs`` threads unless the config sets ``train.threads``; each one's output goes to its
    ``RUN/train.log``."""

    jobs: int = 1
    quiet: bool = False
    log: Log = echo

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ConfigError(f"jobs={self.jobs} is invalid: expected an integer >= 1.")

    def map(self, tasks: Sequence[RunTask]) -> Iterator[tuple[str, str | None]]:
        if self.jobs == 1:
            yield from self._in_process(tasks)
            return
        threads = max(1, (os.cpu_count() or 1) // self.jobs)

        def work(task: RunTask) -> tuple[str, str | None]:
            self.log(f"{task.state} {task.name} (subprocess)")
            return task.name, run_subprocess(with_threads(task, threads))

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            yield from pool.map(work, tasks)

    def _in_process(self, tasks: Sequence[RunTask]) -> Iterator[tuple[str, str | None]]:
        cache = _DataCache(self.quiet)
        for i, task in enumerate(tasks, 1):
            self.log(f"{task.state} {task.name} ({i}/{len(tasks)})")
            try:
                run_in_process(task, cache.get(task.cfg), quiet=self.quiet, log=self.log)
            except AelabError as exc:
                yield task.name, str(exc)
            else:
                yield task.name, None


def with_threads(task: RunTask, threads: int) -> RunTask:
    """``task`` with ``train.threads = threads`` unless its config sets a number itself."""
    if task.cfg.train.threads != 0:
        return task
    cfg = task.cfg.with_values({"train.threads": threads})
    return RunTask(task.name, cfg, task.run_dir, task.state)


class _DataCache:
    """Loads each distinct (data config, seed) once for in-process runs."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.cache: dict[Any, Any] = {}

    def get(self, cfg: RunConfig) -> Any:
        key = (cfg.data, cfg.train.seed)
        if key not in self.cache:
            self.cache[key] = load_dataset(cfg.data, seed=cfg.train.seed, progress=not self.quiet)
        return self.cache[key]


def refreshed(task: RunTask) -> RunTask:
    """``task`` with its run's state read again as it starts: a run that another process
    (an invocation side by side sharing the runs) finished or advanced since the plan was
    made is skipped or continued, never refused or trained over."""
    state = run_state(task.run_dir, task.cfg)
    return task if state is task.state else RunTask(task.name, task.cfg, task.run_dir, state)


def run_in_process(task: RunTask, data: Any, *, quiet: bool, log: Log) -> None:
    """Train (or resume) and evaluate one run here; a resume that cannot continue its
    checkpoint trains from scratch instead."""

    task = refreshed(task)
    if task.state is RunState.DONE:
        log(f"{task.name}: finished meanwhile by another process; skipped")
        return
    state = task.state
    if state is RunState.RESUME:
        try:
            train(task.cfg, task.run_dir, data=data, resume=True, quiet=quiet)
        except CheckpointError as exc:
            log(f"{task.name}: cannot resume ({exc}); training it from scratch")
            state = RunState.RETRAIN
    if state in (RunState.TRAIN, RunState.RETRAIN):
        overwrite = state is RunState.RETRAIN
        train(task.cfg, task.run_dir, data=data, overwrite=overwrite, quiet=quiet)
    evaluate_run(task.run_dir, data=data, quiet=quiet)


WORKER = "aelab.studies.worker"  # the module that does one run in a subprocess


def worker_command(task: RunTask, config_path: Path) -> list[str]:
    """The ``python -m aelab.studies.worker`` command line that does ``task`` (its config
    saved at ``config_path``)."""
    where = ["--config", str(config_path), "--run-dir", str(task.run_dir)]
    return [sys.executable, "-m", WORKER, *where, "--state", str(task.state), "--name", task.name]


def run_subprocess(task: RunTask) -> str | None:
    """Do one run with ``python -m aelab.studies.worker``, appending its output to
    ``RUN/train.log``. None on success, else one line: the worker's own error line."""
    task = refreshed(task)
    if task.state is RunState.DONE:
        return None
    task.run_dir.mkdir(parents=True, exist_ok=True)
    log_path = task.run_dir / TRAIN_LOG
    with tempfile.TemporaryDirectory(prefix="aelab-run-") as tmp:
        config_path = Path(tmp) / "config.toml"
        task.cfg.save(config_path)
        cmd = worker_command(task, config_path)
        with open_log(log_path) as f:
            f.write(f"# {now_iso()} {' '.join(cmd[1:])}\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        return f"{last_line(log_path)} (exit code {proc.returncode}; log: {log_path})"
    if not is_complete(task.run_dir) or "reconstruction" not in read_metrics(task.run_dir):
        return f"the run did not finish; see {log_path}"
    return None


def last_line(path: Path) -> str:
    """The last non-empty line of a text file (a failed command's one-line error)."""
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else "(no output)"


@dataclass
class RunOutcome:
    """What each run needed (``states``), the finished and evaluated run directories
    (``done``, in the order of the configs) and the failed runs (name -> reason)."""

    done: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    states: dict[str, RunState] = field(default_factory=dict)


def run_configs(
    configs: dict[str, RunConfig],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    quiet: bool = False,
    log: Log = echo,
    executor: Executor | None = None,
    rank_by: str = DEFAULT_RANK,
) -> RunOutcome:
    """Train and evaluate each named config into ``out_dir/<name>``, skipping finished ones.

    ``executor`` (default: a :class:`LocalExecutor` of ``jobs``) does the runs. A run that
    fails with a user-facing error is recorded in ``failed`` and the others go on. The
    progress names the best run so far by ``rank_by`` (a catalog key)."""
    executor = executor or LocalExecutor(jobs, quiet=quiet, log=log)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    outcome = RunOutcome()
    todo = []
    for name, cfg in configs.items():
        state = outcome.states[name] = run_state(out / name, cfg)
        if state is RunState.DONE:
            log(f"skip {name}: finished and evaluated")
        else:
            todo.append(RunTask(name, cfg, out / name, state))
    with Progress(len(todo), quiet=quiet, log=log, rank_by=rank_by) as progress:
        for name, error in executor.map(todo):
            progress.update(name, out / name, error)
            if error is not None:
                log(f"{name} failed: {error}")
                outcome.failed[name] = error
    outcome.done = {n: out / n for n in configs if n not in outcome.failed}
    return outcome


class Progress:
    """One bar over a batch of runs: runs done/total, the best run so far by ``rank_by`` (a
    metric that means the same for every run, read from each finished and evaluated run's
    metrics.json; never the runs' own losses, which differ between families and losses)
    and the ETA. Not on a terminal (or ``quiet``), a plain line per finished run instead
    (none when ``quiet``)."""

    def __init__(self, total: int, *, quiet: bool, log: Log, rank_by: str = DEFAULT_RANK) -> None:
        self.total, self.quiet, self.log = total, quiet, log
        self.metric = catalog.rankable(rank_by)
        self.done = 0
        self.best: tuple[float, str] | None = None
        self.start = time.perf_counter()
        show = total > 0 and not quiet and sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="run", desc="runs", dynamic_ncols=True) if show else None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, name: str, run_dir: Path, error: str | None) -> None:
        self.done += 1
        value = None if error else rank_value(run_dir, self.metric)
        if value is not None and (self.best is None or self.metric.better(value, self.best[0])):
            self.best = (value, name)
        best = f"{self.metric.label} {self.best[0]:.4g} ({self.best[1]})" if self.best else None
        if self.bar is not None:
            if best:
                self.bar.set_postfix_str(f"best {best}", refresh=False)
            self.bar.update(1)
            return
        if self.quiet:
            return
        line = f"[{self.done}/{self.total}] {name} {'failed' if error else 'finished'}"
        if best:
            line += f"; best {best}"
        left = self.total - self.done
        if left:
            eta = (time.perf_counter() - self.start) / self.done * left
            line += f"; ETA {time.strftime('%H:%M:%S', time.gmtime(eta))}"
        self.log(line)


def rank_value(run_dir: Path, metric: Metric) -> float | None:
    """The run's value of ``metric`` from its metrics.json, or None when it has none."""
    try:
        value = catalog.lookup(read_metrics(run_dir), metric)
    except AelabError:
        return None
    return float(value) if isinstance(value, (int, float)) else None


def raise_failures(outcome: RunOutcome) -> None:
    """A TrainingError listing the failed runs, if any."""
    if outcome.failed:
        lines = "; ".join(f"{k}: {v}" for k, v in outcome.failed.items())
        raise TrainingError(
            f"{len(outcome.failed)} run(s) failed ({lines}). Fix the cause and re-run the same "
            "command: finished runs are skipped."
        )


def total_train_seconds(out_dir: Path) -> float:
    """The training seconds of every run under ``out_dir``, summed over the invocations
    that trained each (``run.wall_time_s`` of each metrics.json); unreadable ones count 0."""
    total = 0.0
    for metrics in Path(out_dir).rglob("metrics.json"):
        try:
            total += float(read_metrics(metrics.parent).get("run", {}).get("wall_time_s") or 0.0)
        except AelabError:
            continue
    return total
