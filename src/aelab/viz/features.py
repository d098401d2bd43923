"""Learned features: one image tile per code unit (decoded unit vectors, decoder weights)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style
from aelab.viz.grid import image_tiles

MAX_TILES = 64


def feature_tiles(tiles: np.ndarray, *, title: str, normalize: bool = True) -> Figure:
    """``tiles`` (latent_dim, C, H, W), one per unit (the first ``MAX_TILES`` are shown),
    each contrast-stretched to [0, 1] when ``normalize``."""
    tiles = np.asarray(tiles, dtype=np.float32)[:MAX_TILES]
    if normalize:
        tiles = np.stack([style.stretch(t) for t in tiles]) if len(tiles) else tiles
    labels = [str(i) for i in range(len(tiles))]
    return image_tiles(tiles, title=title, labels=labels)
