"""How well do cluster assignments agree with class labels? Pure functions on label arrays.

- ``cluster_accuracy``: unsupervised clustering accuracy, the best one-to-one matching of
  clusters to classes (the Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``),
  as reported by DEC (Xie et al., 2016) and IDEC (Guo et al., 2017);
- ``agreement``: NMI, ARI (scikit-learn) and that accuracy together;
- ``changed_fraction``: the share of points whose cluster changed (DEC's stopping rule).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from aelab.errors import DataError

AGREEMENT = ("nmi", "ari", "acc")


def _pair(labels: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, clusters = np.asarray(labels).ravel(), np.asarray(clusters).ravel()
    if labels.shape != clusters.shape:
        raise DataError(
            f"labels and cluster assignments differ in length: {len(labels)} vs {len(clusters)}."
        )
    if len(labels) == 0:
        raise DataError("no points to score: labels and cluster assignments are empty.")
    return labels, clusters


def cluster_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of points (N,) whose cluster maps to their class under the best one-to-one
    matching of clusters to classes; 1.0 for any relabelling of the true partition."""
    labels, clusters = _pair(labels, clusters)
    counts = contingency_matrix(labels, clusters)  # (classes, clusters)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def agreement(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """``{"nmi", "ari", "acc"}`` of cluster assignments (N,) against class labels (N,)."""
    labels, clusters = _pair(labels, clusters)
    return {
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
        "acc": cluster_accuracy(labels, clusters),
    }


def changed_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """Share of points (N,) whose cluster index differs between two assignments."""
    before, after = _pair(before, after)
    return float(np.mean(before != after))
