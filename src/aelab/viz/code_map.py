"""A 2-D map of codes (already projected) coloured by label."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style


def code_map(
    points: np.ndarray,
    labels: np.ndarray | None,
    *,
    title: str,
    class_names: Sequence[str] | None = None,
    axis_name: str = "PC",
) -> Figure:
    """``points`` (N, 2) scattered, coloured by ``labels`` (N,) with a legend of
    ``class_names``; one colour when unlabelled."""
    points = np.asarray(points)
    with style.context():
        fig = style.new_figure(7.0, 5.0)
        ax = fig.subplots()
        if labels is None:
            ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6)
        else:
            labels = np.asarray(labels)[: len(points)]
            cmap = "tab10" if labels.max(initial=0) < 10 else "tab20"
            colors = mpl.colormaps[cmap]
            for value in np.unique(labels):
                mask = labels == value
                name = str(value)
                if class_names is not None and 0 <= int(value) < len(class_names):
                    name = class_names[int(value)]
                ax.scatter(
                    points[mask, 0],
                    points[mask, 1],
                    s=3,
                    alpha=0.6,
                    color=colors(int(value) % colors.N),
                    label=name,
                )
            ax.legend(
                markerscale=4,
                loc="center left",
                bbox_to_anchor=(1.0, 0.5),
                fontsize=7,
                frameon=False,
            )
        ax.set_xlabel(f"{axis_name} 1")
        ax.set_ylabel(f"{axis_name} 2")
        fig.suptitle(title)
    return fig
