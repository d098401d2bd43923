"""Classical one-class anomaly detectors, the baselines beside an autoencoder's scores.

Each baseline is fitted on the normal class's training pixels only and returns a scorer,
"higher = more anomalous", like the autoencoder's scores (``aelab.metrics.anomaly``).
Hyperparameters are fixed here, in advance, not tuned on the anomalies:

- ``pca``: squared reconstruction error (mean over pixels) of PCA with as many components
  as the autoencoder's code, the linear autoencoder of the same size;
- ``ocsvm``: scikit-learn ``OneClassSVM`` (RBF kernel, ``gamma="scale"``, ``nu=0.1``) on
  the raw pixels, fitted on a fixed random subsample of ``OCSVM_SUBSAMPLE`` images (the
  kernel matrix of all ~6,000 images of a class costs minutes); score = minus its
  decision function;
- ``iforest``: scikit-learn ``IsolationForest`` (``IFOREST_TREES`` trees, default
  subsampling) on the raw pixels; score = minus its ``score_samples``.

``BASELINES`` maps each name to its fit function ``fit(normal, code_dim, seed) -> scorer``
with ``normal`` (N, D) and scored features (M, D) float pixels in [0, 1];
``register_baseline`` adds one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from aelab.errors import ConfigError, DataError

Scorer = Callable[[np.ndarray], np.ndarray]
FitFn = Callable[[np.ndarray, int, int], Scorer]
BASELINES: dict[str, FitFn] = {}

OCSVM_NU = 0.1
OCSVM_SUBSAMPLE = 2000
IFOREST_TREES = 100


def register_baseline(name: str) -> Callable[[FitFn], FitFn]:
    """Register ``fit(normal (N, D), code_dim, seed) -> scorer`` under ``name``."""

    def add(fit: FitFn) -> FitFn:
        if name in BASELINES:
            raise ConfigError(f"anomaly baseline {name!r} is registered twice.")
        BASELINES[name] = fit
        return fit

    return add


@register_baseline("pca")
def pca_error(normal: np.ndarray, code_dim: int, seed: int) -> Scorer:
    """Per-image mean squared error of PCA with ``code_dim`` components."""
    n = min(code_dim, normal.shape[0], normal.shape[1])
    pca = PCA(n_components=n, random_state=seed).fit(normal)
    return lambda x: np.square(x - pca.inverse_transform(pca.transform(x))).mean(1)


@register_baseline("ocsvm")
def one_class_svm(normal: np.ndarray, code_dim: int, seed: int) -> Scorer:
    """RBF one-class SVM on (at most ``OCSVM_SUBSAMPLE`` of) the normal images."""
    if len(normal) > OCSVM_SUBSAMPLE:
        keep = np.random.default_rng(seed).choice(len(normal), OCSVM_SUBSAMPLE, replace=False)
        normal = normal[np.sort(keep)]
    svm = OneClassSVM(kernel="rbf", gamma="scale", nu=OCSVM_NU).fit(normal)
    return lambda x: -svm.decision_function(x)


@register_baseline("iforest")
def isolation_forest(normal: np.ndarray, code_dim: int, seed: int) -> Scorer:
    """Isolation Forest with ``IFOREST_TREES`` trees on the normal images."""
    forest = IsolationForest(n_estimators=IFOREST_TREES, random_state=seed).fit(normal)
    return lambda x: -forest.score_samples(x)


def baseline_scores(
    normal: np.ndarray, test: np.ndarray, *, code_dim: int, seed: int = 0
) -> dict[str, tuple[np.ndarray, float]]:
    """``{name: (scores (M,), seconds to fit and score)}`` of every registered baseline,
    fitted on ``normal`` (N, D) and scoring ``test`` (M, D)."""
    if normal.ndim != 2 or test.ndim != 2 or normal.shape[1] != test.shape[1]:
        raise DataError(
            f"baselines need normal (N, D) and test (M, D) features of one size; found "
            f"{normal.shape} and {test.shape}."
        )
    out = {}
    for name, fit in BASELINES.items():
        start = time.perf_counter()
        scores = np.asarray(fit(normal, code_dim, seed)(test), dtype=np.float64)
        out[name] = (scores, time.perf_counter() - start)
    return out
