"""The most and least anomalous test images of each normal class, with their scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.viz.grid import image_rows

NORMAL, ANOMALY = "#2b6cb0", "#c05621"  # tile label colours: an image of the normal class or not


def anomaly_extremes(
    rows: Mapping[str, tuple[np.ndarray, Sequence[float], Sequence[str], Sequence[bool]]],
    *,
    title: str,
    tile: float = 0.8,
) -> Figure:
    """One row per entry: ``rows[label] = (images (N, C, H, W), scores (N,), true class
    names (N,), is_normal (N,))``. Each tile is labelled with its score and its true class,
    in blue for an image of the normal class and orange for an anomaly."""
    labels = list(rows)
    images = [np.asarray(rows[k][0]) for k in labels]
    tile_labels = [
        [f"{score:.3g}\n{name}" for score, name in zip(rows[k][1], rows[k][2], strict=True)]
        for k in labels
    ]
    fig = image_rows(
        images,
        title=f"{title}\nmost and least anomalous test images (blue: normal class, orange: anomaly)",
        row_labels=labels,
        tile=tile,
        tile_labels=tile_labels,
    )
    for ax, key in zip(fig.axes, labels, strict=False):
        for text, normal in zip(ax.get_xticklabels(), rows[key][3], strict=False):
            text.set_color(NORMAL if normal else ANOMALY)
    return fig
