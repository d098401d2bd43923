"""aelab.studies.runner: what each run directory needs (RunState), and one scheduler that
skips finished runs and hands the rest to an executor."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from aelab.errors import ConfigError, TrainingError
from aelab.rundir import merge_metrics, read_metrics
from aelab.studies.runner import (
    LocalExecutor,
    Progress,
    RunState,
    RunTask,
    raise_failures,
    run_configs,
    run_state,
    run_subprocess,
    worker_command,
)


class RecordingExecutor:
    """Does no run: records the tasks and fails the ones named in ``fail``."""

    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.fail = set(fail)
        self.tasks: list[RunTask] = []

    def map(self, tasks: Sequence[RunTask]) -> Iterator[tuple[str, str | None]]:
        for task in tasks:
            self.tasks.append(task)
            yield task.name, "boom" if task.name in self.fail else None


@pytest.fixture()
def finished(three_runs, tmp_path: Path) -> Path:
    """A copy of a finished, evaluated run (dense, code 4) that a test may break."""
    return Path(shutil.copytree(three_runs[0], tmp_path / "finished"))


def test_state_of_a_finished_run(finished: Path, base_config) -> None:
    same = base_config.override(["model.latent_dim=4"])
    assert run_state(finished, same) is RunState.DONE
    # More epochs asked for: continue from the checkpoint, or retrain without one.
    assert run_state(finished, same.override(["train.epochs=2"])) is RunState.RESUME
    (finished / "checkpoints" / "last.state.pt").unlink()
    assert run_state(finished, same.override(["train.epochs=2"])) is RunState.RETRAIN
    # Trained but never evaluated.
    metrics = read_metrics(finished)
    metrics.pop("reconstruction")
    (finished / "metrics.json").write_text(json.dumps(metrics))
    assert run_state(finished, same) is RunState.EVALUATE
    # Its weights lost.
    for weights in (finished / "checkpoints").glob("*.safetensors"):
        weights.unlink()
    assert run_state(finished, same) is RunState.RETRAIN


def test_a_finished_run_of_another_config_is_an_error(finished: Path, base_config) -> None:
    changed = base_config.override(["model.latent_dim=4", "train.lr=0.5"])
    with pytest.raises(ConfigError, match="different run"):
        run_state(finished, changed)
    fewer = base_config.override(["model.latent_dim=4"])
    (finished / "config.toml").write_text(
        (finished / "config.toml").read_text().replace("epochs = 1", "epochs = 3")
    )
    with pytest.raises(ConfigError, match="more than"):
        run_state(finished, fewer)


def test_state_of_partial_runs(finished: Path, tmp_path: Path, base_config) -> None:
    assert run_state(tmp_path / "nothing", base_config) is RunState.TRAIN
    partial = tmp_path / "partial"
    (partial / "checkpoints").mkdir(parents=True)
    assert run_state(partial, base_config) is RunState.RETRAIN
    merge_metrics(partial, "run", {"status": "running"})
    assert run_state(partial, base_config) is RunState.RETRAIN
    # Interrupted with a checkpoint and its state: resumed.
    merge_metrics(finished, "run", {"status": "running"})
    assert run_state(finished, base_config.override(["model.latent_dim=4"])) is RunState.RESUME
    assert str(RunState.RESUME) == f"{RunState.RESUME}" == "resume"


def test_scheduler_skips_finished_runs_and_reports_failures(
    three_runs, base_config, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(three_runs[0], out / "old")
    configs = {
        "new": base_config.override(["model.latent_dim=2"]),
        "old": base_config.override(["model.latent_dim=4"]),
        "bad": base_config.override(["model.latent_dim=3"]),
    }
    executor = RecordingExecutor(fail=["bad"])
    lines: list[str] = []
    outcome = run_configs(configs, out, executor=executor, log=lines.append)
    assert [(t.name, t.state) for t in executor.tasks] == [
        ("new", RunState.TRAIN),
        ("bad", RunState.TRAIN),
    ]
    assert executor.tasks[0].run_dir == out / "new" and executor.tasks[0].cfg == configs["new"]
    assert outcome.states == {"new": RunState.TRAIN, "old": RunState.DONE, "bad": RunState.TRAIN}
    assert list(outcome.done) == ["new", "old"]  # in the order of the configs
    assert outcome.failed == {"bad": "boom"}
    # Not a terminal: one progress line per finished run, the ETA while runs are left.
    assert lines[0] == "skip old: finished and evaluated"
    assert re.fullmatch(r"\[1/2\] new finished; ETA \d\d:\d\d:\d\d", lines[1])
    assert lines[2:] == ["[2/2] bad failed", "bad failed: boom"]
    with pytest.raises(TrainingError, match=r"1 run\(s\) failed \(bad: boom\)"):
        raise_failures(outcome)
    raise_failures(run_configs({"old": configs["old"]}, out, executor=RecordingExecutor()))


def test_local_executor_starts_the_studies_worker(base_config, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jobs=0"):
        LocalExecutor(jobs=0)
    task = RunTask("run", base_config, tmp_path / "run", RunState.RESUME)
    cmd = worker_command(task, tmp_path / "c.toml")
    assert cmd[1:3] == ["-m", "aelab.studies.worker"]  # not python -m aelab train / evaluate
    assert cmd[3:] == [
        *("--config", str(tmp_path / "c.toml"), "--run-dir", str(tmp_path / "run")),
        *("--state", "resume", "--name", "run"),
    ]


def test_a_subprocess_run_trains_evaluates_and_logs_through_the_worker(
    three_runs, base_config, tmp_path: Path
) -> None:
    """One run in a ``python -m aelab.studies.worker`` subprocess, as ``--jobs 2`` starts
    it: trained and evaluated, its output in RUN/train.log, the same numbers as in process;
    a failing one comes back as its one-line error."""
    cfg = base_config.override(["model.latent_dim=4"])
    task = RunTask("dense-4", cfg, tmp_path / "dense-4", RunState.TRAIN)
    assert run_subprocess(task) is None
    assert run_state(task.run_dir, cfg) is RunState.DONE
    log = (task.run_dir / "train.log").read_text(encoding="utf-8")
    assert log.startswith("# ") and "-m aelab.studies.worker --config" in log.splitlines()[0]
    in_process = read_metrics(three_runs[0])["reconstruction"]  # dense-4, trained in process
    assert read_metrics(task.run_dir)["reconstruction"] == in_process

    bad_cfg = cfg.override(["model.input_shape=[3,32,32]"])
    error = run_subprocess(RunTask("bad", bad_cfg, tmp_path / "bad", RunState.TRAIN))
    assert error is not None and error.startswith(
        "error: model.input_shape=[3, 32, 32] does not match the data ([1, 28, 28])"
    )
    assert "(exit code 2; log: " in error and "Traceback" not in error


@pytest.mark.parametrize(
    ("rank_by", "label", "pick"), [("test_mse", "test MSE", min), ("test_ssim", "test SSIM", max)]
)
def test_progress_reports_the_best_run_so_far_by_rank_by(three_runs, rank_by, label, pick) -> None:
    """By a metric that means the same for every run (never the runs' own losses), in its
    direction."""
    path = {"test_mse": "mse", "test_ssim": "ssim"}[rank_by]
    scores = {d.name: read_metrics(d)["reconstruction"][path] for d in three_runs}
    lines: list[str] = []
    with Progress(len(three_runs), quiet=False, log=lines.append, rank_by=rank_by) as progress:
        for run_dir in three_runs:
            progress.update(run_dir.name, run_dir, None)
    best = pick(scores, key=scores.get)
    assert (
        lines[-1]
        == f"[3/3] {three_runs[-1].name} finished; best {label} {scores[best]:.4g} ({best})"
    )
    quiet: list[str] = []
    with Progress(1, quiet=True, log=quiet.append) as progress:
        progress.update("x", three_runs[0], None)
    assert quiet == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_finished_by_another_invocation_meanwhile_is_skipped(
    jobs, base_config, three_runs, tmp_path
) -> None:
    """Two invocations side by side share their runs: a run planned as TRAIN that the other
    one finished before this one reached it is skipped, not refused as "already holds a
    run" (seen with two reproduce.py invocations) and not trained again."""
    finished = three_runs[0]  # dense-4, trained and evaluated
    run_dir = tmp_path / "dense-4"
    cfg = base_config.override(["model.latent_dim=4"])
    assert run_state(run_dir, cfg) is RunState.TRAIN  # the plan, made before ...
    shutil.copytree(finished, run_dir)  # ... the other invocation finished it
    mtimes = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    task = RunTask("dense-4", cfg, run_dir, RunState.TRAIN)
    lines: list[str] = []
    [(name, error)] = list(LocalExecutor(jobs=jobs, log=lines.append).map([task]))
    assert (name, error) == ("dense-4", None)
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()} == mtimes
    if jobs == 1:
        assert "dense-4: finished meanwhile by another process; skipped" in lines
