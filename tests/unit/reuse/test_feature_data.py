"""Tabular feature vectors (not images) through train, evaluate, probe and anomaly scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.data import as_splits
from aelab.errors import DataError
from aelab.evaluation.evaluate import IMAGE_FIGURES, evaluate_run
from aelab.models.dense import DenseConfig
from aelab.reuse.anomaly import one_class
from aelab.reuse.inference import TrainedModel
from aelab.reuse.probe import probe_model
from aelab.training import train

N, D, RANK, CLASSES = 600, 24, 3, 3


def clustered_rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in a rank-3 subspace of 24 features, plus noise, in (0, 1)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((CLASSES, RANK)) * 2.5
    y = rng.integers(0, CLASSES, N)
    z = centers[y] + rng.standard_normal((N, RANK))
    x = z @ rng.standard_normal((RANK, D)) / np.sqrt(RANK) + 0.1 * rng.standard_normal((N, D))
    return (1 / (1 + np.exp(-x))).astype(np.float32), y


@pytest.fixture(scope="module")
def rows():
    x, y = clustered_rows()
    return as_splits(x, labels=y, seed=0)


def config() -> RunConfig:
    return RunConfig(
        name="tabular",
        data=DataConfig(),
        model=DenseConfig(latent_dim=4, hidden=(16,)),
        train=TrainConfig(epochs=20, batch_size=32, lr=3e-3, device="cpu", threads=1),
    )


def test_train_evaluate_and_probe_feature_vectors(rows, tmp_path) -> None:
    assert rows.shape == (1, 1, D) and not rows.is_image
    result = train(config(), tmp_path / "run", data=rows, quiet=True)
    out = evaluate_run(tmp_path / "run", data=rows, quiet=True)
    rec = out["reconstruction"]
    assert rec["ssim"] is None and out["pca"]["ssim"] is None
    per_feature_mean_mse = float(rows.test.images.reshape(-1, D).var(axis=0).mean())
    assert 0 < rec["mse"] < per_feature_mean_mse / 3
    stems = {p.rsplit("/", 1)[-1].removesuffix(".png") for p in out["figures"]}
    assert stems == {"loss_curves", "code_activity", "code_map"}
    assert not stems & IMAGE_FIGURES
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["reconstruction"]["mse"] == pytest.approx(rec["mse"])
    assert 'dataset = "python:ndarray"' in (tmp_path / "run" / "config.toml").read_text()

    with pytest.raises(DataError, match="was passed from Python and is not on disk"):
        evaluate_run(tmp_path / "run", quiet=True)  # the saved config cannot reload it
    # the same rows streamed from a torch Dataset: evaluated batch by batch, same numbers
    streamed = as_splits(
        TensorDataset(torch.from_numpy(rows.train.images)),
        test=TensorDataset(torch.from_numpy(rows.test.images)),
    )
    again = evaluate_run(tmp_path / "run", data=streamed, quiet=True)
    assert again["reconstruction"]["mse"] == pytest.approx(rec["mse"], rel=1e-5)
    assert again["reconstruction"]["ssim"] is None

    probes = probe_model(TrainedModel(result.model, result.config), rows)
    assert probes["autoencoder"]["logreg_acc"] > 0.6  # chance is 1/3


def test_anomaly_scores_other_clusters_as_anomalies(rows) -> None:
    result = one_class(config(), rows, 0)
    assert result.n_test_normal > 0 and result.n_test_anomalous > 0
    assert result.metrics["reconstruction"]["auroc"] > 0.7
    assert result.metrics["combined"]["auroc"] > 0.7
