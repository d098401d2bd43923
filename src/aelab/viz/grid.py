"""A grid of images in labelled rows: the building block of every image figure.

Each row is drawn as ONE mosaic image (tiles assembled with numpy, separated by a thin white
gap) in one Axes, so a figure of many tiles costs a handful of ``imshow`` calls rather than
one Axes per tile (which made drawing dominate evaluation). Row labels are the Axes' y
labels; column and tile labels are tick labels above the tiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from aelab.viz import style

GAP = 2  # pixels of white between tiles
EDGE_PAD = 0.1  # inches between the figure's edge and the row labels (and any decoration)


def _mosaic(row: np.ndarray, n_cols: int) -> tuple[np.ndarray, int, int]:
    """``row`` (N, C, H, W) -> one (H, n_cols*(W+GAP)-GAP[, 3]) image in [0, 1] (white where
    there is no tile), and the tile height and width."""
    tiles = [style.to_display(image) for image in row]
    height, width = tiles[0].shape[:2]
    rgb = any(t.ndim == 3 for t in tiles)
    shape = (height, n_cols * (width + GAP) - GAP) + ((3,) if rgb else ())
    canvas = np.ones(shape, dtype=np.float32)
    for j, tile in enumerate(tiles[:n_cols]):
        if rgb and tile.ndim == 2:
            tile = np.repeat(tile[:, :, None], 3, axis=2)
        x = j * (width + GAP)
        canvas[:, x : x + width] = tile[:height, :width]
    return canvas, height, width


def _draw_row(ax: Axes, row: np.ndarray, n_cols: int, labels: Sequence[str] | None) -> None:
    """One mosaic row in ``ax``: no frame, no y ticks, ``labels`` (if any) above the tiles."""
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_yticks([])
    if len(row) == 0:
        ax.set_xticks([])
        return
    canvas, _, width = _mosaic(np.asarray(row), n_cols)
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    if labels:
        centers = [j * (width + GAP) + (width - 1) / 2 for j in range(min(len(labels), n_cols))]
        ax.set_xticks(centers, [str(label) for label in labels[: len(centers)]])
        ax.xaxis.tick_top()
        ax.tick_params(axis="x", length=0, pad=1, labelsize=6)
    else:
        ax.set_xticks([])


def image_rows(
    rows: Sequence[np.ndarray],
    *,
    title: str,
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    tile: float = 0.9,
    tile_labels: Sequence[Sequence[str]] | None = None,
) -> Figure:
    """One row per entry of ``rows``, each an (N, C, H, W) array (uint8 or float in [0, 1]);
    rows may differ in length. Row labels go on the left, column labels on top of the first
    row; ``tile_labels`` (one list per row) label every tile instead."""
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=1) or 1
    label_width = 1.1 if row_labels else 0.0
    with style.context():
        fig = style.new_figure(label_width + tile * n_cols, 0.5 + tile * n_rows)
        # constrained layout's default 3/72 in leaves the row labels touching the edge
        fig.get_layout_engine().set(w_pad=EDGE_PAD, h_pad=EDGE_PAD)
        axes = fig.subplots(n_rows, 1, squeeze=False)[:, 0] if n_rows else []
        for i, (ax, row) in enumerate(zip(axes, rows, strict=False)):
            labels = None
            if tile_labels is not None and i < len(tile_labels):
                labels = tile_labels[i]
            elif i == 0 and column_labels is not None:
                labels = column_labels
            _draw_row(ax, row, n_cols, labels)
            if row_labels is not None and i < len(row_labels):
                ax.set_ylabel(str(row_labels[i]), rotation=0, ha="right", va="center")
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
    tile_labels = None
    if labels is not None:
        labels = list(labels)
        tile_labels = [labels[i : i + ncols] for i in range(0, n, ncols)]
    return image_rows(rows, title=title, tile=tile, tile_labels=tile_labels)
