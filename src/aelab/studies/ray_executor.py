"""Run a batch of runs on Ray: each run is one Ray task, on this machine or on a cluster.

The runner (:func:`aelab.studies.runner.run_configs`) decides what each run needs (train,
resume, retrain, evaluate, skip); :class:`RayExecutor` only executes: every task checks that
its node can write the run directory, then trains and evaluates the run in the Ray worker
(:func:`aelab.studies.worker.run_one`, as a ``--jobs N`` subprocess does) with ``cpus_per_run``
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

from aelab.errors import ConfigError
from aelab.rundir import TRAIN_LOG, now_iso
from aelab.studies.runner import Log, RunTask, echo, open_log, with_threads
from aelab.studies.worker import run_one

INSTALL_HINT = "pip install 'aelab[ray]'"
ADDRESS_FORMS = "ray://HEAD:10001, HEAD:6379 or auto"
CONNECT_TIMEOUT_S = 3.0  # a head that does not accept a connection in this time is an error


def address_endpoint(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``--ray-address`` (None for ``auto``); a one-line ConfigError
    for any other form."""
    if address == "auto":
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not sep or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--ray-address {address!r} is invalid: expected {ADDRESS_FORMS} "
            "(HEAD a host name or IP, the port a number)."
        )
    return host, int(port)


def check_head(address: str, timeout: float | None = None) -> None:
    """A Ray head accepts connections at ``address`` within seconds (ray.init itself
    retries for minutes)."""
    endpoint = address_endpoint(address)
    if endpoint is None:
        return
    seconds = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        socket.create_connection(endpoint, timeout=seconds).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConfigError(
            f"no Ray head answers at {address} within {seconds:g} s ({reason}); start one "
            "there (ray start --head) or check --ray-address "
            f"({ADDRESS_FORMS})."
        ) from None


def check_resources(resources: dict[str, float], cpus: float, gpus: float, where: str) -> None:
    """A run fits on the cluster: Ray would otherwise hold an infeasible task forever."""
    have_cpus, have_gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    if cpus > have_cpus:
        raise ConfigError(
            f"--cpus-per-run {cpus:g} is more than {where} has ({have_cpus:g} CPUs); "
            f"pass --cpus-per-run {max(have_cpus, 1):g} or less."
        )
    if gpus > have_gpus:
        has = f"{have_gpus:g} GPUs" if have_gpus else "no GPU"
        fix = (
            f"pass --gpus-per-run {have_gpus:g} or less"
            if have_gpus
            else "leave --gpus-per-run out"
        )
        raise ConfigError(
            f"--gpus-per-run {gpus:g} is more than {where} has ({has}); {fix}, or join a "
            "cluster with GPUs (--ray-address)."
        )


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


def local_gpus() -> int:
    """The GPUs this process sees (torch's count: Ray detects the same devices)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


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
        return run_one(task, quiet=False)


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Python's and C's: file descriptors 1 and 2) to
    the end of ``path`` for the block; a Ray worker runs one task at a time."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open_log(path) as f:
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
        if self.address is not None:
            address_endpoint(self.address)

    def map(self, tasks: Sequence[RunTask]) -> Iterator[tuple[str, str | None]]:
        if not tasks:
            return
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            self._init(ray)
        try:
            where = self.address or "this machine"
            check_resources(ray.cluster_resources(), self.cpus_per_run, self.gpus_per_run, where)
        except ConfigError:
            if started:
                ray.shutdown()
            raise
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
            # what fits is known before the (slow) local start: say it now
            check_resources(
                {"CPU": usable_cpus(), "GPU": local_gpus()},
                self.cpus_per_run,
                self.gpus_per_run,
                "this machine",
            )
            ray.init(num_cpus=usable_cpus(), include_dashboard=False)
        else:
            check_head(self.address)
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
