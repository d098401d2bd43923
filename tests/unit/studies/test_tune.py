"""The search settings, the objective and in-process searches: 6 trials with pruning on
SQLite, resumed without retraining anything; an evaluated trial; a wrong objective."""

from __future__ import annotations

import csv

import pytest

from aelab.config import RunConfig
from aelab.errors import ConfigError
from aelab.studies.search_space import parse_search
from aelab.studies.tune import TuneConfig, run_tune
from conftest import tiny_config

optuna = pytest.importorskip("optuna")


def test_tune_settings_are_validated():
    with pytest.raises(ConfigError, match="direction"):
        TuneConfig(direction="max")
    with pytest.raises(ConfigError, match="trials"):
        TuneConfig(trials=0)


def test_objective_is_any_catalog_name_with_its_direction(tmp_path):
    """Key, alias or path; the direction defaults from the catalog entry, an explicit one
    wins; names outside the catalog, and numbers with no direction, are refused at once."""
    import json

    from aelab.studies.tune import objective_value

    assert TuneConfig().direction == "minimize"  # val_loss: the best validation loss
    assert TuneConfig(objective="test_ssim").direction == "maximize"
    assert TuneConfig(objective="logreg_acc").direction == "maximize"
    assert TuneConfig(objective="reconstruction.mse").direction == "minimize"
    assert TuneConfig(objective="test_ssim", direction="minimize").direction == "minimize"
    with pytest.raises(ConfigError, match=r"unknown metric 'test_mes'.*Did you mean 'test_mse'"):
        TuneConfig(objective="test_mes")
    with pytest.raises(ConfigError, match=r"not a score.*--direction"):
        TuneConfig(objective="parameters")
    assert TuneConfig(objective="parameters", direction="minimize").direction == "minimize"
    with pytest.raises(ConfigError, match="not evaluated"):
        TuneConfig(objective="test_mse", evaluate=False)

    run = tmp_path / "run"
    run.mkdir()
    metrics = {"run": {"best_val_loss": 0.25}, "reconstruction": {"mse": 0.02, "ssim": 0.5}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert objective_value(run, "test_mse") == 0.02 == objective_value(run, "reconstruction.mse")
    assert objective_value(run, "val_loss") == 0.25
    with pytest.raises(ConfigError, match=r"logreg_acc.*aelab probe"):
        objective_value(run, "logreg_acc")


# --------------------------------------------------------------------------- a search


def test_six_trials_with_pruning_then_a_rerun_trains_nothing(idx_dir, tmp_path):
    base = tiny_config(idx_dir, "r3-fashion-vanilla", "train.epochs=3")
    space = [
        parse_search("model.latent_dim=int:2:16:log"),
        parse_search("train.lr=float:1e-4:3e-2:log"),
    ]
    settings = TuneConfig(trials=6, seed=1, startup_trials=1, evaluate=False)
    out = tmp_path / "tune"
    result = run_tune(base, space, out, settings, quiet=True, log=lambda msg: None)

    study = optuna.load_study(study_name=settings.study_name, storage=f"sqlite:///{out}/study.db")
    states = [t.state.name for t in study.trials]
    assert len(states) == 6 and set(states) <= {"COMPLETE", "PRUNED"}
    assert "PRUNED" in states and "COMPLETE" in states
    assert result.finished == 6 and result.best_value == study.best_value
    for trial in study.trials:
        run_dir = out / f"trial-{trial.number:04d}"
        assert trial.user_attrs["run_dir"] == run_dir.name
        assert (run_dir / "train.log").read_text().count("# trial ") == 1
        assert (
            RunConfig.load(run_dir / "config.toml").model.latent_dim
            == trial.params["model.latent_dim"]
        )
        if trial.state.name == "PRUNED":  # stopped by the pruner, after fewer epochs
            assert len(trial.intermediate_values) < 3
    best = RunConfig.load(out / "best.toml")
    assert best.model.latent_dim == study.best_params["model.latent_dim"]
    assert best.train.lr == study.best_params["train.lr"]
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["number"] for r in rows] == [str(i) for i in range(6)]
    for png in ("optimization_history", "intermediate_values", "param_importances"):
        assert (out / f"{png}.png").stat().st_size > 0

    logs = {p: p.stat().st_mtime_ns for p in out.glob("trial-*/train.log")}
    again = run_tune(base, space, out, settings, quiet=True, log=lambda msg: None)
    assert (
        again.finished == 6
        and len(
            optuna.load_study(
                study_name=settings.study_name, storage=f"sqlite:///{out}/study.db"
            ).trials
        )
        == 6
    )
    assert {p: p.stat().st_mtime_ns for p in out.glob("trial-*/train.log")} == logs
    # the same folder with another space is refused
    with pytest.raises(ConfigError, match="another base config or space"):
        run_tune(base, space[:1], out, settings, quiet=True, log=lambda msg: None)


def test_trial_seeds_are_deterministic_and_decorrelated():
    import numpy as np

    from aelab.studies.tune import trial_seed

    seeds = [trial_seed(0, n) for n in range(6)]
    assert seeds == [trial_seed(0, n) for n in range(6)]  # a resumed search repeats them
    first_draws = [np.random.RandomState(s).rand() for s in seeds]
    # seed + number would give 0.549 and 0.551 for trials 0 and 3: near-identical proposals
    gaps = np.diff(np.sort(first_draws))
    assert gaps.min() > 0.005


def test_an_evaluated_trial_is_scored_by_its_metrics_json(idx_dir, tmp_path):
    from aelab.rundir import read_metrics

    base = tiny_config(idx_dir, "r3-fashion-vanilla")
    space = [parse_search("model.latent_dim=int:2:8")]
    settings = TuneConfig(trials=1, objective="reconstruction.mse", prune=False)
    result = run_tune(base, space, tmp_path / "ok", settings, quiet=True, log=lambda msg: None)
    mse = read_metrics(tmp_path / "ok" / "trial-0000")["reconstruction"]["mse"]
    assert result.best_value == mse and (tmp_path / "ok" / "trial-0000" / "report.html").exists()
    # a wrong objective is refused before any trial, naming the closest name
    with pytest.raises(ConfigError, match=r"Did you mean 'run\.best_val_loss'"):
        TuneConfig(trials=3, objective="run.best_val_los", evaluate=False)


# --------------------------------------------------------------------------- dead workers


def _unnamed_orphan(out, settings) -> int:
    """A trial a worker created and was killed before naming: RUNNING, no ``worker``."""
    from aelab.studies.tune import STUDY_DB

    out.mkdir(parents=True)
    study = optuna.create_study(
        study_name=settings.study_name, storage=f"sqlite:///{out / STUDY_DB}", direction="minimize"
    )
    return study.ask().number


def test_alone_on_its_study_a_worker_fails_a_trial_killed_before_it_was_named(idx_dir, tmp_path):
    base = tiny_config(idx_dir, "r3-fashion-vanilla", "train.epochs=1")
    space = [parse_search("model.latent_dim=int:2:16")]
    settings = TuneConfig(trials=3, seed=0, prune=False, evaluate=False)
    out = tmp_path / "tune"
    orphan = _unnamed_orphan(out, settings)
    lines: list[str] = []
    result = run_tune(base, space, out, settings, quiet=True, log=lines.append)

    study = optuna.load_study(study_name=settings.study_name, storage=f"sqlite:///{out}/study.db")
    assert result.finished == 3
    assert study.trials[orphan].state.name == "FAIL"
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 3
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    assert f"trial {orphan}: its process (killed before it was named) died" in "\n".join(lines)
    assert not list((out / "workers").glob("*.lock"))  # the worker's own lock is gone


def test_a_live_worker_keeps_its_unnamed_trial(idx_dir, tmp_path):
    """Another live worker's lock: the unnamed trial may be its own, being named now."""
    import fcntl
    import os

    from aelab.studies.tune import Tuner

    base = tiny_config(idx_dir, "r3-fashion-vanilla", "train.epochs=1")
    settings = TuneConfig(trials=3, seed=0, prune=False, evaluate=False)
    out = tmp_path / "tune"
    orphan = _unnamed_orphan(out, settings)
    (out / "workers").mkdir()
    fd = os.open(out / "workers" / "elsewhere-1.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a separate open file: a lock another worker holds
        tuner = Tuner(base, [parse_search("model.latent_dim=int:2:16")], out, settings)
        with tuner.registry:
            tuner.fail_orphans()
            assert tuner.study.trials[orphan].state.name == "RUNNING"
    finally:
        os.close(fd)
    with tuner.registry:  # that worker died: its lock file is cleared, the trial failed
        tuner.fail_orphans()
    assert tuner.study.trials[orphan].state.name == "FAIL"
    assert not (out / "workers" / "elsewhere-1.lock").exists()
