"""Which inputs drive each code unit: the top-activating images per unit."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.metrics.code import top_activating as top_indices
from aelab.viz.grid import image_rows

MAX_UNITS = 16


def top_activating(images: np.ndarray, codes: np.ndarray, *, title: str, k: int = 8) -> Figure:
    """For the ``MAX_UNITS`` units with the largest mean activation, the ``k`` images of
    ``images`` (N, C, H, W) with the largest activation ``codes`` (N, latent_dim)."""
    codes = np.asarray(codes)
    units = np.argsort(-np.abs(codes).mean(axis=0), kind="stable")[:MAX_UNITS]
    order = top_indices(codes, k)
    rows = [np.asarray(images)[order[u]] for u in units]
    labels = [f"unit {u}" for u in units]
    return image_rows(rows, title=title, row_labels=labels, tile=0.7)
