"""One shape for every downstream task (probe, cluster, anomaly, ...).

A task is an object with a ``name`` (its command and registry name), a ``section`` (its
part of metrics.json, and the folder ``RUN/<section>/`` its figures and files go to) and
``compute(context) -> TaskResult``. :func:`run_task` does everything around it, the same
way for every task: load the run and its data once, compute, then write the section into
metrics.json, the figures as ``RUN/<section>/<stem>.png``, any extra files, and rebuild
report.html (which shows the section's tables and the figures of ``RUN/<section>/``).

A new task is one module with its class plus one line in :data:`TASKS` (or a call to
:func:`register_task`); figure captions go in ``aelab.viz.SECTION_FIGURES``.

    class Mean:
        name = section = "mean"
        def compute(self, context):
            codes = context.model.encode(context.data.test.images)
            return TaskResult({"code_mean": float(codes.mean())})

    run_task(Mean(), "runs/r1")
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aelab.config import RunConfig
from aelab.data.splits import DatasetSplits
from aelab.errors import ConfigError, did_you_mean
from aelab.report import render_report
from aelab.reuse.embed import run_data
from aelab.reuse.inference import TrainedModel, load
from aelab.rundir import atomic_write_text, merge_metrics
from aelab.training.device import resolve_device

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Log = Callable[[str], None]


def quiet(_: str) -> None:
    """A log that says nothing."""


def stderr_log(line: str) -> None:
    """A log of status lines on stderr (stdout stays for results)."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TaskContext:
    """What a task computes from: the run (``run_dir``, its loaded ``model`` and
    ``config``) and its ``data``, loaded once by :func:`run_task`. ``progress``: progress
    bars welcome; ``log``: status lines."""

    run_dir: Path
    model: TrainedModel
    config: RunConfig
    data: DatasetSplits
    progress: bool = False
    log: Log = quiet

    @property
    def run_name(self) -> str:
        return self.config.name or self.config.preset or self.run_dir.resolve().name

    def title(self, what: str) -> str:
        """The title of a figure: run · dataset · what it shows."""
        from aelab.viz.style import figure_title  # matplotlib only when a figure is drawn

        return figure_title(self.run_name, self.data.name, what)


@dataclass
class TaskResult:
    """What a task produced. ``section``: its JSON-ready metrics.json section (every leaf
    described in ``aelab.metrics.catalog``); ``figures``: {file stem: Figure}, or a
    function returning them, called only when the result is written (``--no-write`` draws
    nothing); ``files``: {file name: text} (e.g. cluster.md); ``detail``: the task's own
    richer result for Python callers (e.g. ``ClusterResult``), never written."""

    section: dict[str, Any]
    figures: dict[str, Figure] | Callable[[], dict[str, Figure]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    detail: Any = None


@runtime_checkable
class DownstreamTask(Protocol):
    """The protocol every downstream task follows (see the module docstring)."""

    name: str
    section: str

    def compute(self, context: TaskContext) -> TaskResult: ...


# name -> the task's class (or any factory of tasks), or "module:attribute" imported on
# first use, so listing the tasks imports neither scikit-learn nor UMAP.
TASKS: dict[str, Callable[..., DownstreamTask] | str] = {
    "probe": "aelab.reuse.probe:ProbeTask",
    "cluster": "aelab.reuse.cluster:ClusterTask",
    "anomaly": "aelab.reuse.anomaly:AnomalyTask",
}


def register_task(name: str, factory: Callable[..., DownstreamTask] | str) -> None:
    """Add a task (its class, or ``"module:attribute"``) under ``name``; names are unique."""
    if name in TASKS:
        raise ConfigError(f"task {name!r} is registered twice; choose another name.")
    TASKS[name] = factory


def list_tasks() -> list[str]:
    return sorted(TASKS)


def create_task(name: str, **options: Any) -> DownstreamTask:
    """The task registered as ``name``, built with ``options``."""
    if name not in TASKS:
        raise ConfigError(
            f"unknown task {name!r}: expected one of {', '.join(list_tasks())}."
            + did_you_mean(name, TASKS)
        )
    factory = TASKS[name]
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    return factory(**options)


def write_result(run_dir: str | Path, section: str, result: TaskResult) -> Path:
    """Write ``result``: its figures (``RUN/<section>/<stem>.png``) and files into
    ``RUN/<section>/``, its section into metrics.json, then rebuild report.html. Returns
    the folder."""
    from aelab.viz.save import save_figure

    folder = Path(run_dir) / section
    for name, text in result.files.items():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / name, text)
    figures = result.figures() if callable(result.figures) else result.figures
    for stem, fig in figures.items():
        save_figure(fig, folder / f"{stem}.png")
    merge_metrics(run_dir, section, result.section)
    render_report(run_dir)
    return folder


def run_task(
    task: DownstreamTask | str,
    run_dir: str | Path,
    *,
    data: DatasetSplits | None = None,
    dataset: str | None = None,
    checkpoint: str = "best",
    device: str = "auto",
    write: bool = True,
    progress: bool = True,
    log: Log | None = None,
) -> TaskResult:
    """Run ``task`` (or the registered task of that name) on the run in ``run_dir``: load
    its ``checkpoint`` on ``device`` and its data (its own dataset, ``dataset`` instead, or
    ``data`` given in memory) once, compute, and with ``write`` write the section, figures
    and files and rebuild the report (:func:`write_result`). ``log``: status lines
    (default: stderr when ``progress``, else none)."""
    if isinstance(task, str):
        task = create_task(task)
    log = log if log is not None else stderr_log if progress else quiet
    run_dir = Path(run_dir)
    model = load(run_dir, checkpoint=checkpoint, device=str(resolve_device(device)))
    assert model.config is not None  # a run directory always holds its config
    if data is None:
        data = run_data(model.config, dataset, progress=progress)
    context = TaskContext(run_dir, model, model.config, data, progress=progress, log=log)
    result = task.compute(context)
    if write:
        write_result(run_dir, task.section, result)
    return result


__all__ = [
    "TASKS",
    "DownstreamTask",
    "TaskContext",
    "TaskResult",
    "create_task",
    "list_tasks",
    "register_task",
    "run_task",
    "write_result",
]
