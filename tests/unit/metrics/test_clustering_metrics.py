"""Clustering agreement on known answers: Hungarian accuracy, NMI/ARI, changed fraction."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.errors import DataError
from aelab.metrics.clustering import agreement, changed_fraction, cluster_accuracy


def test_a_relabelled_partition_agrees_perfectly():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([2, 2, 0, 0, 1, 1, 1])  # the same partition, other names
    assert agreement(labels, clusters) == {"nmi": 1.0, "ari": 1.0, "acc": 1.0}


def test_accuracy_is_the_best_one_to_one_matching():
    # cluster 0 -> class 0 (2 points), cluster 1 -> class 1 (3 points): 5 of 6
    assert cluster_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]) == pytest.approx(5 / 6)
    # more clusters than classes: one of clusters 0/1 stays unmatched: 3 of 4
    assert cluster_accuracy([0, 0, 1, 1], [0, 1, 2, 2]) == pytest.approx(3 / 4)
    # greedy matching takes the largest cell first (cluster 0 -> class 1, 3 points) and
    # scores 3 of 7; the optimum maps 0 -> 0 and 1 -> 1 for 2 + 2 = 4 of 7
    labels = [0, 0, 1, 1, 1, 1, 1]
    clusters = [0, 0, 0, 0, 0, 1, 1]
    assert cluster_accuracy(labels, clusters) == pytest.approx(4 / 7)
    # cluster names need not match class names: 0 -> class 1 (3 points), 1 -> class 0 (1)
    assert cluster_accuracy([1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1]) == pytest.approx(4 / 6)


def test_a_single_cluster_scores_chance():
    labels = np.repeat([0, 1, 2, 3], 5)
    scores = agreement(labels, np.zeros(20, dtype=int))
    assert scores["acc"] == 0.25 and scores["ari"] == 0.0 and scores["nmi"] == 0.0


def test_changed_fraction_and_mistakes():
    assert changed_fraction([0, 1, 2, 3], [0, 1, 3, 2]) == 0.5
    with pytest.raises(DataError, match="differ in length"):
        agreement([0, 1], [0, 1, 1])
    with pytest.raises(DataError, match="empty"):
        cluster_accuracy([], [])
