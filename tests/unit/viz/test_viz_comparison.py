"""aelab.viz.comparison: each figure builds from plain numbers and tolerates gaps."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.viz.comparison import metric_bars, side_by_side, sweep_lines, tradeoff_scatter


def test_metric_bars_one_panel_per_metric_with_missing_values() -> None:
    fig = metric_bars(
        ["a", "b", "c"], {"MSE": [0.1, None, 0.3], "BCE": [0.2, 0.25, float("nan")]}, title="t"
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.1", "n/a", "0.3"]


def test_sweep_lines_log_axis_for_code_sizes_and_categories_otherwise() -> None:
    fig = sweep_lines(
        "model.latent_dim",
        {"": ([2, 8, 32], {"MSE": [0.05, 0.03, None], "L0": [2, 6, 20]})},
        title="t",
    )
    assert len([ax for ax in fig.axes if ax.lines]) == 2
    assert fig.axes[0].get_xscale() == "log"
    cat = sweep_lines("model.hidden", {"a": (["[64]", "[128]"], {"MSE": [1, 2]})}, title="t")
    assert [t.get_text() for t in cat.axes[0].get_xticklabels()] == ["[64]", "[128]"]


def test_tradeoff_scatter_and_side_by_side() -> None:
    fig = tradeoff_scatter(
        {"l1": [(10, 0.03, "1e-5"), (4, 0.05, "1e-4")], "topk": [(8, 0.02, "k=8")]}, title="t"
    )
    assert len(fig.axes[0].lines) == 2
    x, _ = fig.axes[0].lines[0].get_data()
    assert list(x) == [4, 10]  # sorted by L0
    pics = side_by_side({"a": np.zeros((10, 10, 3)), "b": np.ones((10, 10, 4))}, title="t")
    assert [ax.get_title() for ax in pics.axes] == ["a", "b"]


def test_sweep_lines_join_numeric_values_in_increasing_order() -> None:
    """`--vary model.latent_dim=2,4,3` draws one monotone line 2-3-4, not a zig-zag."""
    fig = sweep_lines(
        "model.latent_dim", {"": ([2, 4, 3], {"test MSE": [0.3, 0.1, 0.2]})}, title="t"
    )
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [2, 3, 4]
    assert list(line.get_ydata()) == [0.3, 0.2, 0.1]
