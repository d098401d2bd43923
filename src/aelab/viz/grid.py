"""A grid of images in labelled rows: the building block of every image figure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style


def image_rows(
    rows: Sequence[np.ndarray],
    *,
    title: str,
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    tile: float = 0.9,
) -> Figure:
    """One row per entry of ``rows``, each an (N, C, H, W) array (uint8 or float in [0, 1]);
    rows may differ in length. Row labels go on the left, column labels on top."""
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=1) or 1
    label_width = 1.1 if row_labels else 0.0
    with style.context():
        fig = style.new_figure(label_width + tile * n_cols, 0.5 + tile * n_rows)
        axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
        for i, row in enumerate(rows):
            for j in range(n_cols):
                ax = axes[i, j]
                if j < len(row):
                    style.show_image(ax, row[j])
                else:
                    ax.set_axis_off()
                if i == 0 and column_labels is not None and j < len(column_labels):
                    ax.set_title(str(column_labels[j]), fontsize=7)
            if row_labels is not None and i < len(row_labels):
                axes[i, 0].set_ylabel(str(row_labels[i]), rotation=0, ha="right", va="center")
        fig.suptitle(title)
    return fig


def image_tiles(
    images: np.ndarray,
    *,
    title: str,
    ncols: int | None = None,
    labels: Sequence[str] | None = None,
    tile: float = 0.8,
) -> Figure:
    """``images`` (N, C, H, W) as a square-ish grid of tiles, optionally labelled."""
    n = len(images)
    ncols = ncols or max(1, int(np.ceil(np.sqrt(n))))
    rows = [images[i : i + ncols] for i in range(0, n, ncols)] or [images[:0]]
    fig = image_rows(rows, title=title, tile=tile)
    if labels is not None:
        for ax, label in zip(fig.axes, labels, strict=False):
            ax.set_title(str(label), fontsize=6, pad=1)
    return fig
