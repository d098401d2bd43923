"""Denoising at a glance: corrupted input, clean image, reconstruction of the corrupted input."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.viz.grid import image_rows


def denoising_triplets(
    noisy: np.ndarray, clean: np.ndarray, denoised: np.ndarray, *, title: str
) -> Figure:
    """Three rows of (N, C, H, W) images: noisy input, clean target, denoised output."""
    return image_rows(
        [noisy, clean, denoised], title=title, row_labels=["noisy", "clean", "denoised"]
    )
