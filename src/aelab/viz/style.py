"""The look shared by every figure: sizes, fonts, titles, and how an image is drawn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "figure.titlesize": 11,
    "legend.fontsize": 8,
    "axes.grid": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 110,
    "figure.dpi": 110,
}


@contextmanager
def context() -> Iterator[None]:
    """The house style for the figures built inside the block."""
    with mpl.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A Figure not tied to pyplot (no global state; garbage-collected when dropped)."""
    return Figure(figsize=(width, height), layout="constrained")


def figure_title(run: str, dataset: str, metric: str) -> str:
    """The title every figure carries: which run, on which data, showing what."""
    return " · ".join(part for part in (run, dataset, metric) if part)


def to_display(image: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 or float in [0, 1] -> (H, W) gray or (H, W, 3) RGB floats in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    image = np.clip(image, 0.0, 1.0)
    if image.ndim == 2:
        return image
    if image.shape[0] == 1:
        return image[0]
    return np.moveaxis(image[:3], 0, -1)


def stretch(image: np.ndarray) -> np.ndarray:
    """Contrast-stretch one image (any shape) to [0, 1]; a constant image becomes 0.5."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    if high - low < 1e-12:
        return np.full_like(image, 0.5)
    return (image - low) / (high - low)


def show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw one (C, H, W) image without axes."""
    ax.imshow(to_display(image), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
