"""Probes: planted separable structure gives accuracy far above chance, and the run's
metrics.json gets its "downstream" section."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.errors import DataError
from aelab.metrics.downstream import PROBES, compare, probe
from aelab.reuse.probe import format_table, probe_run
from aelab.rundir import read_metrics


def blobs(n: int, classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 5, size=(classes, dim))
    y = np.arange(n) % classes
    return centres[y] + rng.normal(0, 1, size=(n, dim)), y


def test_probe_scores_separable_blobs_perfectly_and_noise_at_chance():
    x_train, y_train = blobs(200, 4, 6, 0)
    x_test, y_test = blobs(100, 4, 6, 1)
    scores = probe(x_train, y_train, x_test, y_test)
    assert set(scores) == set(PROBES)
    assert scores["logreg_acc"] == scores["knn_acc"] == 1.0
    assert scores["kmeans_nmi"] > 0.95 and scores["kmeans_ari"] > 0.95
    rng = np.random.default_rng(2)
    noise = probe(rng.normal(size=(200, 6)), y_train, rng.normal(size=(100, 6)), y_test)
    assert noise["logreg_acc"] < 0.5 and noise["kmeans_nmi"] < 0.1
    assert probe(x_train, y_train, x_test, y_test) == scores  # fixed random_state


def test_compare_uses_pca_of_the_code_size():
    x_train, y_train = blobs(120, 3, 20, 0)
    x_test, y_test = blobs(60, 3, 20, 1)
    low, span = x_train.min(), np.ptp(x_train)
    x_train, x_test = (x_train - low) / span, (x_test - low) / span
    results = compare(x_train[:, :4], x_test[:, :4], x_train, x_test, y_train, y_test)
    assert list(results) == ["autoencoder", "pca", "pixels"]
    assert all(set(r) == set(PROBES) for r in results.values())
    table = format_table(results)
    assert "pixels" in table and "logreg_acc" in table


def test_probe_errors():
    with pytest.raises(DataError, match="2 classes"):
        probe(np.zeros((5, 2)), np.zeros(5), np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        probe(np.full((4, 2), np.nan), np.arange(4) % 2, np.zeros((4, 2)), np.arange(4) % 2)
    with pytest.raises(DataError, match="differ"):
        probe(np.zeros((4, 2)), np.arange(4) % 2, np.zeros((4, 3)), np.arange(4) % 2)


def test_probe_run_on_planted_structure(run_dir):
    results = probe_run(run_dir, progress=False)
    ae = results["autoencoder"]
    # 4 classes: chance is 0.25 accuracy and 0 NMI
    assert ae["logreg_acc"] > 0.7, ae
    assert ae["knn_acc"] > 0.7, ae
    assert ae["kmeans_nmi"] > 0.2, ae
    assert results["pixels"]["knn_acc"] > 0.9
    assert read_metrics(run_dir)["downstream"] == results
