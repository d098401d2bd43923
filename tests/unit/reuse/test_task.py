"""The one shape of a downstream task: a new task is one class plus its registration, and
probe and cluster go through the same run_task."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import aelab.reuse.cluster as cluster_module
import aelab.reuse.probe as probe_module
import aelab.reuse.task as task_module
from aelab.errors import ConfigError
from aelab.reuse.cluster import ClusterConfig, ClusterTask, cluster_run
from aelab.reuse.probe import ProbeTask, probe_run
from aelab.reuse.task import (
    TASKS,
    DownstreamTask,
    TaskContext,
    TaskResult,
    create_task,
    register_task,
    run_task,
)
from aelab.rundir import read_metrics
from aelab.viz.code_map import code_map
from report_html import read_page


class CodeNorm:
    """A minimal task: the mean L2 norm of the test codes, and a map of them."""

    name = "code-norm"
    section = "code_norm"

    def __init__(self, *, scale: float = 1.0) -> None:
        self.scale = scale

    def compute(self, context: TaskContext) -> TaskResult:
        codes = context.model.encode(context.data.test.images)
        norm = float(np.linalg.norm(codes, axis=1).mean()) * self.scale
        figure = code_map(codes[:, :2], context.data.test.labels, title=context.title("codes"))
        return TaskResult(
            {"mean_norm": norm, "n_test": len(codes)},
            figures={"norms": figure},
            files={"norm.txt": f"{norm}\n"},
        )


@pytest.fixture
def run_copy(run_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's trained run (tasks write into it)."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_module, "TASKS", dict(TASKS))
    register_task("code-norm", CodeNorm)


def test_a_new_task_is_one_class_and_its_registration(run_copy: Path, registered) -> None:
    result = run_task("code-norm", run_copy, device="cpu", progress=False)
    metrics = read_metrics(run_copy)
    assert metrics["code_norm"] == result.section and result.section["mean_norm"] > 0
    assert (run_copy / "code_norm" / "norms.png").stat().st_size > 0
    assert (run_copy / "code_norm" / "norm.txt").read_text().strip() == str(
        result.section["mean_norm"]
    )
    page = read_page((run_copy / "report.html").read_text(encoding="utf-8"))
    (table,) = page.section_tables("code_norm")  # not in the catalog: a key / value table
    assert [row[0] for row in table.rows] == ["mean_norm", "n_test"]
    images = [i for i in page.images if i.section == "section-code_norm"]
    assert [i.figure for i in images] == ["fig-code_norm-norms"]
    assert page.json_in_text() == []
    # options reach the task; write=False leaves the run alone
    again = run_task(create_task("code-norm", scale=2.0), run_copy, write=False, progress=False)
    assert again.section["mean_norm"] == pytest.approx(2 * result.section["mean_norm"])
    assert read_metrics(run_copy)["code_norm"] == result.section


def test_registry_names_are_unique_and_checked(registered) -> None:
    with pytest.raises(ConfigError, match="registered twice"):
        register_task("code-norm", CodeNorm)
    with pytest.raises(ConfigError, match="Did you mean 'cluster'"):
        create_task("clustr")
    assert isinstance(create_task("probe", train_limit=10), ProbeTask)
    for name in ("probe", "cluster", "code-norm"):
        task = create_task(name)
        assert isinstance(task, DownstreamTask) and task.name == name


def test_probe_and_cluster_run_through_run_task(run_copy: Path, monkeypatch) -> None:
    """probe_run and cluster_run are run_task with their task: one write path, one report."""
    seen: list[str] = []

    def spying(task, *args, **kwargs):
        seen.append(type(task).__name__)
        return run_task(task, *args, **kwargs)

    monkeypatch.setattr(probe_module, "run_task", spying)
    monkeypatch.setattr(cluster_module, "run_task", spying)
    scores = probe_run(run_copy, progress=False, cache=False)
    result = cluster_run(run_copy, ClusterConfig(n_init=2, max_iter=10, update_interval=5))
    assert seen == ["ProbeTask", "ClusterTask"]
    metrics = read_metrics(run_copy)
    assert metrics["downstream"] == scores and metrics["cluster"] == result.section()
    assert ClusterTask.section == "cluster" and ProbeTask.section == "downstream"
    assert (run_copy / "downstream" / "probe_scores.png").stat().st_size > 0
    for name in ("codes_by_cluster.png", "codes_by_class.png", "clusters.png", "cluster.md"):
        assert (run_copy / "cluster" / name).stat().st_size > 0
    page = read_page((run_copy / "report.html").read_text(encoding="utf-8"))
    figures = {i.figure for i in page.images}
    assert {"fig-downstream-probe_scores", "fig-cluster-clusters"} <= figures
