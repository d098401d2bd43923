"""Classical anomaly baselines on planted data: normal = one Gaussian blob, anomalies far."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.errors import ConfigError, DataError
from aelab.metrics.anomaly import auroc
from aelab.metrics.anomaly_baselines import (
    BASELINES,
    baseline_scores,
    register_baseline,
)


def planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal training points and a test set of 100 normals and 100 anomalies in 20-D;
    normals vary along 3 directions only, anomalies sit off that subspace."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(20, 3)))[0].T  # (3, 20) orthonormal
    centre = np.full(20, 0.5)

    def normals(n: int) -> np.ndarray:
        return centre + 0.1 * rng.normal(size=(n, 3)) @ basis + 0.005 * rng.normal(size=(n, 20))

    anomalies = centre + 0.3 * rng.choice([-1.0, 1.0], size=(100, 20))
    test = np.concatenate([normals(100), anomalies])
    return normals(500), test, np.r_[np.zeros(100), np.ones(100)]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_each_baseline_separates_a_far_cluster(name):
    normal, test, is_anomaly = planted()
    scores = BASELINES[name](normal, 3, 0)(test)
    assert scores.shape == (200,) and np.isfinite(scores).all()
    assert auroc(scores, is_anomaly) > 0.9


def test_pca_error_is_zero_on_the_normal_subspace():
    rng = np.random.default_rng(1)
    normal = rng.normal(size=(50, 2)) @ rng.normal(size=(2, 6))  # rank 2
    scorer = BASELINES["pca"](normal - normal.mean(0) + 1, 2, 0)
    assert scorer(normal - normal.mean(0) + 1).max() < 1e-10


def test_baseline_scores_times_every_baseline_and_checks_shapes():
    normal, test, is_anomaly = planted(2)
    out = baseline_scores(normal, test, code_dim=3)
    assert set(out) == set(BASELINES)
    for scores, seconds in out.values():
        assert seconds >= 0 and auroc(scores, is_anomaly) > 0.9
    with pytest.raises(DataError, match="one size"):
        baseline_scores(normal, test[:, :5], code_dim=3)
    with pytest.raises(ConfigError, match="twice"):
        register_baseline("pca")(BASELINES["pca"])
