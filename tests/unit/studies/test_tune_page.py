"""tune.html from a real Optuna study (no training: the objective is a known function):
trials table, history figure, importances or the sentence saying why there are none."""

from __future__ import annotations

import pytest

from aelab.metrics import catalog
from aelab.studies.tune_page import history, write_tune_page
from htmlparts import page_parts

optuna = pytest.importorskip("optuna")


def study_of(objective, n: int, direction: str = "minimize"):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction=direction, sampler=optuna.samplers.RandomSampler(seed=0), study_name="s"
    )
    study.optimize(objective, n_trials=n)
    return study


def two_params(trial):
    trial.set_user_attr("run_dir", f"trial-{trial.number:04d}")
    x = trial.suggest_float("train.lr", 1e-4, 1e-1, log=True)
    k = trial.suggest_int("model.latent_dim", 2, 16)
    if trial.number == 2:
        raise optuna.TrialPruned()
    return 10 * x + 0.001 * k


def test_trials_table_history_and_importances(tmp_path):
    study = study_of(two_params, 6)
    (tmp_path / "trial-0001").mkdir()
    (tmp_path / "trial-0001" / "report.html").write_text("<html></html>")
    page = page_parts(write_tune_page(study, tmp_path, "test_mse", log=lambda _: None))
    rows = page.texts("trials-table")
    assert rows[0] == [
        "trial", "state", "train.lr", "model.latent_dim", "test MSE", "seconds", "report"
    ]  # fmt: skip
    assert [r[1] for r in rows[1:]] == ["complete"] * 2 + ["pruned"] + ["complete"] * 3
    assert rows[3][4] == ""  # the pruned trial has no value
    best = study.best_trial
    fmt = catalog.get("test_mse").fmt
    assert rows[1 + best.number][4] == format(best.value, fmt)
    assert page.links == ["trial-0001/report.html"]  # only the trial that has a report
    assert page.images == 1 and (tmp_path / "tune_history.png").exists()
    importances = page.texts("importances-table")[1:]
    assert {name for name, _ in importances} == {"train.lr", "model.latent_dim"}
    # the objective is 10 * lr + 0.001 * latent_dim over lr in [1e-4, 0.1]: lr explains most
    assert importances[0][0] == "train.lr"


def test_history_tracks_the_best_by_direction():
    study = study_of(lambda t: t.suggest_float("x", 0, 1), 5, direction="maximize")
    numbers, values, best = history(study)
    assert numbers == [0, 1, 2, 3, 4]
    assert best == [max(values[: i + 1]) for i in range(5)]


def test_one_parameter_gets_a_sentence_instead_of_importances(tmp_path):
    study = study_of(lambda t: t.suggest_float("x", 0, 1), 3)
    page = page_parts(write_tune_page(study, tmp_path, "val_loss", log=lambda _: None))
    assert "importances-table" not in page.tables and "no-importances" in page.ids
    assert "varies 1 parameter" in (tmp_path / "tune.html").read_text()
    assert page.texts("trials-table")[0][3] == catalog.get("val_loss").label


def test_one_completed_trial_says_so(tmp_path):
    def one(trial):
        trial.suggest_float("a", 0, 1)
        trial.suggest_float("b", 0, 1)
        if trial.number:
            raise optuna.TrialPruned()
        return 1.0

    study = study_of(one, 3)
    write_tune_page(study, tmp_path, "reconstruction.mse", log=lambda _: None)
    text = (tmp_path / "tune.html").read_text()
    assert "1 trial completed; they need at least 2" in text
