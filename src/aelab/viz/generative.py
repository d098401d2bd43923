"""Generative models: samples from the prior and interpolation strips."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.viz.grid import image_rows, image_tiles


def prior_samples(samples: np.ndarray, *, title: str) -> Figure:
    """``samples`` (N, C, H, W) in [0, 1] as a grid."""
    return image_tiles(np.asarray(samples), title=title)


def interpolation_strip(frames: np.ndarray, *, title: str) -> Figure:
    """``frames`` (steps, C, H, W) for one strip, or (pairs, steps, C, H, W) for several;
    the end frames are the decoded codes of the two images."""
    frames = np.asarray(frames)
    strips = [frames] if frames.ndim == 4 else list(frames)
    steps = len(strips[0])
    columns = [f"{i / max(steps - 1, 1):.2f}" for i in range(steps)]
    return image_rows(strips, title=title, column_labels=columns)
