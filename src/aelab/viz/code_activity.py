"""How the code is used: the distribution of activations and each unit's mean activity."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style


def code_activity(codes: np.ndarray, *, title: str, threshold: float = 1e-6) -> Figure:
    """``codes`` (N, latent_dim): a histogram of all activations (log counts) and a bar of
    mean |z_j| per unit, dead units (never |z_j| > threshold) in red."""
    codes = np.asarray(codes, dtype=np.float32)
    mean = np.abs(codes).mean(axis=0)
    dead = ~(np.abs(codes) > threshold).any(axis=0)
    with style.context():
        fig = style.new_figure(9.0, 3.0)
        hist, bars = fig.subplots(1, 2, width_ratios=[1, 1.6])
        hist.hist(codes.ravel(), bins=60, color="tab:blue")
        hist.set_yscale("log")
        hist.set_xlabel("activation z")
        hist.set_ylabel("count (all units, all images)")
        units = np.arange(len(mean))
        colors = np.where(dead, "tab:red", "tab:blue")
        bars.bar(units, mean, color=colors, width=0.9)
        if dead.any():
            bars.scatter(units[dead], np.zeros(int(dead.sum())), marker="x", color="tab:red")
        bars.set_xlabel("code unit")
        bars.set_ylabel("mean |z|")
        bars.set_title(f"{int(dead.sum())} dead of {len(mean)} units")
        fig.suptitle(title)
    return fig
