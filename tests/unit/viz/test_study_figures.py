"""The anomaly extremes and tune history figures: what they draw, on known inputs."""

from __future__ import annotations

import numpy as np

from aelab.viz.anomaly_extremes import ANOMALY, NORMAL, anomaly_extremes
from aelab.viz.tune_history import optimization_history


def test_extremes_label_each_tile_with_score_and_class_coloured_by_normality():
    images = np.random.default_rng(0).integers(0, 256, (3, 1, 6, 6), dtype=np.uint8)
    rows = {
        "1 one: most": (images, [9.5, 8.25, 7.0], ["two", "one", "three"], [False, True, False]),
        "1 one: least": (images[:2], [-1.0, -0.5], ["one", "one"], [True, True]),
    }
    fig = anomaly_extremes(rows, title="t")
    first = fig.axes[0]
    assert first.get_ylabel() == "1 one: most"
    texts = [t.get_text() for t in first.get_xticklabels()]
    assert texts == ["9.5\ntwo", "8.25\none", "7\nthree"]
    assert [t.get_color() for t in first.get_xticklabels()] == [ANOMALY, NORMAL, ANOMALY]
    assert [t.get_color() for t in fig.axes[1].get_xticklabels()] == [NORMAL, NORMAL]


def test_history_draws_values_and_best_so_far():
    fig = optimization_history(
        [0, 2, 3], [0.5, 0.7, 0.4], [0.5, 0.5, 0.4], objective="MSE", title="t"
    )
    ax = fig.axes[0]
    points, best = ax.get_lines()
    assert list(points.get_xdata()) == [0, 2, 3] and list(points.get_ydata()) == [0.5, 0.7, 0.4]
    assert list(best.get_ydata()) == [0.5, 0.5, 0.4] and ax.get_ylabel() == "MSE"
