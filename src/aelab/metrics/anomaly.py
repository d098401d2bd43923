"""Anomaly-detection scores: how well does a per-image score separate anomalies from normals?

Convention: higher score = more anomalous; ``is_anomaly`` is 1 for anomalies, 0 for normals.
AUROC is threshold-free (0.5 = chance); AUPRC (average precision) depends on the anomaly
rate, which is its chance level.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from aelab.errors import DataError


def _check(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(is_anomaly).astype(bool).ravel()
    if scores.shape != labels.shape:
        raise DataError(
            f"anomaly scores and labels differ in length: {scores.shape[0]} vs {labels.shape[0]}."
        )
    if labels.all() or not labels.any():
        raise DataError(
            "AUROC needs both normal and anomalous samples; found only "
            + ("anomalies." if labels.any() else "normals.")
        )
    if not np.isfinite(scores).all():
        raise DataError("anomaly scores contain NaN or infinity.")
    return scores, labels


def auroc(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for detecting ``is_anomaly``."""
    scores, labels = _check(scores, is_anomaly)
    return float(roc_auc_score(labels, scores))


def auprc(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision), anomalies positive."""
    scores, labels = _check(scores, is_anomaly)
    return float(average_precision_score(labels, scores))


def roc(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) of the ROC curve."""
    scores, labels = _check(scores, is_anomaly)
    fpr, tpr, _ = roc_curve(labels, scores)
    return fpr, tpr
