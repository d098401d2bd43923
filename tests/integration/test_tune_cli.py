"""``aelab tune`` as processes: killed with SIGKILL mid-search and re-run, it finishes
exactly the trials asked for without retraining any; two workers on one SQLite study
share the trials without training one twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration
optuna = pytest.importorskip("optuna")

SRC = Path(__file__).resolve().parents[2] / "src"
TRIALS = 6


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("idx")
    write_idx_dataset(path, n_train=96, n_test=24, shape=(8, 8), classes=4)
    return path


def tune(idx_dir: Path, out: Path) -> list[str]:
    """Trials of 8 epochs, trained only (--no-eval), every one to the end (--no-prune)."""
    return [
        sys.executable, "-m", "aelab", "tune",
        "--preset", "r3-fashion-vanilla",
        "--set", f"data.dataset=idx:{idx_dir}",
        "--set", "data.val_size=16",
        "--set", "train.batch_size=16",
        "--set", "train.threads=1",
        "--epochs", "8",
        "--search", "model.latent_dim=int:2:16:log",
        "--search", "train.lr=float:1e-4:3e-2:log",
        "--trials", str(TRIALS),
        "--no-prune", "--no-eval", "--quiet",
        "--out", str(out),
    ]  # fmt: skip


def env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def trials(out: Path) -> list:
    """The study's trials as the test sees them (a reader: it creates no table)."""
    import sqlalchemy

    if not (out / "study.db").exists():
        return []
    try:
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{out / 'study.db'}", skip_table_creation=True
        )
        return optuna.load_study(study_name="aelab-tune", storage=storage).trials
    except (KeyError, sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError):
        return []  # the worker is still creating it (seen in CI: no table version_info yet)


def states(out: Path, *names: str) -> list:
    return [t for t in trials(out) if t.state.name in names]


def trained_once(out: Path, trial) -> bool:
    log = out / trial.user_attrs["run_dir"] / "train.log"
    return log.read_text().count("# trial ") == 1


def test_sigkill_mid_search_then_rerun_finishes_exactly_the_trials_asked(idx_dir, tmp_path):
    out, marker = tmp_path / "tune", tmp_path / "trial-2-started"
    # The worker announces trial 2 (named, parameters drawn) and holds there until killed
    # (AELAB_TUNE_HOLD, aelab.studies.tune): the kill lands at that point on any machine,
    # however loaded, instead of in whatever window a poller happens to catch.
    hold = {**env(), "AELAB_TUNE_HOLD": f"2:{marker}"}
    proc = subprocess.Popen(tune(idx_dir, out), env=hold, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # a bound on a hang, not a window the test must hit
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the search did not get to a third trial"
        time.sleep(0.05)
    proc.kill()  # SIGKILL: nothing is cleaned up, the third trial stays RUNNING
    proc.wait()
    before = {t.number: t for t in trials(out)}
    finished = {n: t for n, t in before.items() if t.state.name == "COMPLETE"}
    orphans = [n for n, t in before.items() if t.state.name == "RUNNING"]
    assert sorted(finished) == [0, 1] and orphans == [2]  # exactly where it announced
    assert before[2].params  # its parameters were drawn: the retry must keep them
    mtimes = {
        n: (out / t.user_attrs["run_dir"] / "train.log").stat().st_mtime_ns
        for n, t in finished.items()
    }

    rerun = subprocess.run(tune(idx_dir, out), env=env(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    after = trials(out)
    done = [t for t in after if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == TRIALS and not states(out, "RUNNING")
    assert all(trained_once(out, t) for t in done)
    for n, trial in finished.items():  # not retrained
        assert after[n].state.name == "COMPLETE" and after[n].value == trial.value
        assert (out / trial.user_attrs["run_dir"] / "train.log").stat().st_mtime_ns == mtimes[n]
    for n in orphans:  # failed on restart, its parameters retried as a new trial
        assert after[n].state.name == "FAIL"
        retried = [t for t in after if t.system_attrs.get("failed_trial") == n]
        # the values it had drawn, if any (killed before drawing: new ones)
        assert len(retried) == 1 and before[n].params.items() <= retried[0].params.items()
    assert (out / "best.toml").exists() and (out / "trials.csv").exists()


def test_two_workers_share_one_study_without_training_a_trial_twice(idx_dir, tmp_path):
    out = tmp_path / "tune"
    workers = [
        subprocess.Popen(tune(idx_dir, out), env=env(), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr
    done = states(out, "COMPLETE", "PRUNED")
    assert len(done) == TRIALS and not states(out, "RUNNING")
    assert all(trained_once(out, t) for t in done)
    run_dirs = [t.user_attrs["run_dir"] for t in done]
    assert len(set(run_dirs)) == TRIALS
    assert len({t.user_attrs["worker"] for t in done}) == 2  # both took trials


def test_a_rerun_that_finds_the_study_complete_rewrites_tune_html(idx_dir, tmp_path):
    """The page is written at the end of a search, and again by a re-run with nothing left
    to train (its trials, unchanged, in the table)."""
    from aelab.cli.main import main

    out = tmp_path / "tune"
    args = [*tune(idx_dir, out)[3:], "--epochs", "1", "--trials", "2"]
    assert main(args) == 0
    page = out / "tune.html"
    first = page.read_text()
    assert first.count("<td>complete</td>") == 2 and "No parameter importances" not in first
    page.unlink()
    assert main(args) == 0  # the study is complete: no trial trained
    assert page.read_text().count("<td>complete</td>") == 2
    assert len(trials(out)) == 2


def test_a_deleted_trial_folder_is_reported_and_the_search_goes_on(idx_dir, tmp_path, capsys):
    """The best trial's folder deleted by hand: a re-run asking for more trials warns once
    (one line naming the folder), trains the rest and writes best.toml from the trial's
    values."""
    import shutil

    from aelab.cli.main import main
    from aelab.config import RunConfig

    out = tmp_path / "tune"
    args = [*tune(idx_dir, out)[3:], "--epochs", "1"]
    assert main([*args, "--trials", "2"]) == 0
    storage = f"sqlite:///{out / 'study.db'}"
    first = optuna.load_study(study_name="aelab-tune", storage=storage).best_trial
    folder = out / first.user_attrs["run_dir"]
    expected = RunConfig.load(folder / "config.toml")
    shutil.rmtree(folder)
    capsys.readouterr()
    assert main([*args, "--trials", "3"]) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "missing" in line]
    assert len(warned) == 1 and folder.name in warned[0]
    assert len(states(out, "COMPLETE")) == 3
    rebuilt = RunConfig.load(out / "best.toml")
    now = optuna.load_study(study_name="aelab-tune", storage=storage).best_trial
    if now.number == first.number:  # the deleted trial is still the best
        assert rebuilt.model.latent_dim == expected.model.latent_dim
        assert rebuilt.train.lr == expected.train.lr and rebuilt.name == expected.name
