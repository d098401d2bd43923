"""Run a batch of runs on Ray: each run is one Ray task, on this machine or on a cluster.

The runner (:func:`aelab.studies.runner.run_configs`) decides what each run needs (train,
resume, retrain, evaluate, skip); :class:`RayExecutor` only executes: every task checks that
its node can write the run directory, then trains and evaluates the run in the Ray worker
(:func:`aelab.studies.runner.run_in_process`, as ``--jobs 1`` does) with ``cpus_per_run``
CPUs and ``gpus_per_run`` GPUs reserved, its output kept in ``RUN/train.log``. Workers are
reused, so torch is imported once per worker, not once per run.

On a cluster every node must see the same paths: ``--out`` (the run directories), the
dataset files, and an installed aelab. Put ``--out`` on storage every node mounts at the
same path (NFS, a shared volume); a worker that cannot write a run directory fails that run
with an error naming its host and the path."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aelab.data import load_dataset
from aelab.errors import AelabError, ConfigError
from aelab.rundir import TRAIN_LOG, now_iso
from aelab.studies.runner import Log, RunTask, echo, run_in_process, with_threads

INSTALL_HINT = "pip install 'aelab[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


def usable_cpus() -> int:
    """The CPUs this process may use (its affinity where the OS says, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def writable_error(run_dir: Path) -> str | None:
    """None when this node can create and write ``run_dir``, else why not (host and path)."""
    probe = run_dir / f".aelab-write-test-{socket.gethostname()}-{os.getpid()}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return (
            f"Ray worker on {socket.gethostname()} cannot write the run directory {run_dir} "
            f"({exc.strerror or exc}); put --out on storage every node can see and write "
            "at the same path."
        )
    return None


def run_task(task: RunTask) -> str | None:
    """The body of one Ray task: check the run directory is writable here, then train and
    evaluate the run, its output appended to ``RUN/train.log``. None on success, else the
    one-line error; anything but an AelabError is raised (Ray reports it)."""
    error = writable_error(task.run_dir)
    if error is not None:
        return error
    with output_to(task.run_dir / TRAIN_LOG):
        print(f"# {now_iso()} {task.state} {task.name} on {socket.gethostname()}")
        try:
            data = load_dataset(task.cfg.data, seed=task.cfg.train.seed, progress=False)
            run_in_process(task, data, quiet=False, log=print)
        except AelabError as exc:
            print(f"error: {exc}")
            return str(exc)
    return None


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Python's and C's: file descriptors 1 and 2) to
    the end of ``path`` for the block; a Ray worker runs one task at a time."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a", encoding="utf-8") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def task_error(exc: BaseException) -> str:
    """One line for a task that raised: the original exception of a RayTaskError (its
    type and first line), not Ray's traceback dump."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else '(no message)'}"


@dataclass
class RayExecutor:
    """Runs every task as a Ray task with ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs.

    With ``address`` None it starts a local Ray instance on this machine's CPUs (or uses
    the one this process already started); with an address (``ray://head:10001``, ``auto``
    or ``head:6379``) it joins that cluster. The run directories must be on storage every
    node sees at the same path."""

    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    log: Log = echo

    def __post_init__(self) -> None:
        if self.cpus_per_run <= 0:
            raise ConfigError(
                f"cpus_per_run={self.cpus_per_run} is invalid: expected a number > 0."
            )
        if self.gpus_per_run < 0:
            raise ConfigError(
                f"gpus_per_run={self.gpus_per_run} is invalid: expected a number >= 0."
            )

    def map(self, tasks: Sequence[RunTask]) -> Iterator[tuple[str, str | None]]:
        if not tasks:
            return
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            self._init(ray)
        remote = ray.remote(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run)(run_task)
        threads = max(1, int(self.cpus_per_run))
        pending = {}
        try:
            for task in tasks:
                # Workers start elsewhere: give them absolute paths.
                task = RunTask(task.name, task.cfg, task.run_dir.resolve(), task.state)
                pending[remote.remote(with_threads(task, threads))] = task.name
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                name = pending.pop(ready[0])
                try:
                    error = ray.get(ready[0])
                except ray.exceptions.RayError as exc:
                    error = task_error(exc)
                yield name, error
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()

    def _init(self, ray: Any) -> None:
        if self.address is None:
            ray.init(num_cpus=usable_cpus(), include_dashboard=False)
        else:
            try:
                ray.init(address=self.address)
            except ConnectionError as exc:
                raise ConfigError(
                    f"cannot join the Ray cluster at {self.address} ({exc}); check "
                    "--ray-address (ray://HEAD:10001, HEAD:6379 or auto) and that the head runs."
                ) from None
        resources = ray.cluster_resources()
        where = self.address or "a local Ray instance"
        self.log(
            f"ray: {where} with {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} "
            f"GPUs; {self.cpus_per_run:g} CPUs and {self.gpus_per_run:g} GPUs per run"
        )
