"""Images, their reconstructions and their anomaly maps, side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style

MAP_CMAP = "inferno"


def anomaly_maps_figure(
    images: np.ndarray,
    reconstructions: np.ndarray,
    maps: np.ndarray,
    *,
    title: str,
    labels: Sequence[str] | None = None,
    tile: float = 0.9,
) -> Figure:
    """Three rows of N tiles: ``images`` (N, C, H, W) uint8 or floats in [0, 1], their
    ``reconstructions`` (N, C, H, W) in [0, 1] and the anomaly ``maps`` (N, H, W) (e.g.
    :func:`aelab.reuse.detector.anomaly_maps`), the maps on one colour scale from 0 to the
    largest value so maps compare across images; ``labels`` (N,) go above the columns."""
    images, reconstructions, maps = map(np.asarray, (images, reconstructions, maps))
    n = len(images)
    if not (len(reconstructions) == len(maps) == n) or maps.ndim != 3:
        raise ValueError(
            f"expected N images, N reconstructions and (N, H, W) maps; found {len(images)}, "
            f"{len(reconstructions)} and shape {maps.shape}."
        )
    vmax = float(maps.max()) if n and maps.max() > 0 else 1.0
    with style.context():
        fig = style.new_figure(1.2 + tile * max(n, 1), 0.6 + tile * 3)
        axes = fig.subplots(3, max(n, 1), squeeze=False)
        image = None
        for j in range(n):
            style.show_image(axes[0, j], images[j])
            style.show_image(axes[1, j], reconstructions[j])
            ax = axes[2, j]
            image = ax.imshow(maps[j], cmap=MAP_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if labels is not None and j < len(labels):
                axes[0, j].set_title(str(labels[j]), fontsize=6)
        for row, name in enumerate(("image", "reconstruction", "anomaly map")):
            axes[row, 0].set_ylabel(name, fontsize=7)
        if image is not None:
            fig.colorbar(image, ax=axes[2, :].tolist(), shrink=0.9, label="squared error")
        fig.suptitle(title)
    return fig


__all__ = ["anomaly_maps_figure"]
