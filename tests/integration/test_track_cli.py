"""``--track`` through the CLI: a sweep with MLflow and TensorBoard gives one parent MLflow
run with a nested run per point (default store beside the runs) and a TensorBoard folder
per run; the flag lands in each run's config.toml."""

from __future__ import annotations

import pytest

from aelab.cli.main import main
from aelab.config import RunConfig
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration
mlflow = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_sweep_with_trackers_nests_its_runs_under_one_parent(tmp_path):
    idx = tmp_path / "idx"
    write_idx_dataset(idx, n_train=80, n_test=20, shape=(8, 8), classes=4)
    out = tmp_path / "sweep"
    args = [
        "sweep", "--preset", "r3-fashion-vanilla",
        "--vary", "model.latent_dim=2,4", "--epochs", "1",
        "--set", f"data.dataset=idx:{idx}", "--set", "data.val_size=16",
        "--set", "train.batch_size=16", "--set", "train.threads=1",
        "--track", "mlflow", "--track", "tensorboard", "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    points = ["latent_dim-2", "latent_dim-4"]
    for point in points:
        assert RunConfig.load(out / point / "config.toml").train.track == ("mlflow", "tensorboard")
        assert any((out / point / "tb").glob("events.out.tfevents.*"))

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aelab").experiment_id
    runs = {r.info.run_name: r for r in client.search_runs([experiment])}
    assert set(runs) == {"sweep", *points}
    parent = runs["sweep"]
    assert parent.data.params["vary.model.latent_dim"] == "2,4"
    for point in points:
        child = runs[point]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params["model.latent_dim"] == point[-1]
        assert "reconstruction.mse" in child.data.metrics  # logged after the evaluation
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"comparison.html", "comparison.csv", "sweep.json"} <= artifacts
