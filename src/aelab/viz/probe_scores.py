"""Probe scores as grouped bars: one group per probe, one bar per representation."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style


def probe_scores(
    scores: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """``scores[representation][probe]`` (the "downstream" section: autoencoder, PCA,
    pixels) as grouped bars, each bar marked with its value; ``labels[probe]`` names the
    groups. Scores are in [-0.5, 1] (accuracies, NMI, ARI)."""
    representations = list(scores)
    probes = list(dict.fromkeys(p for row in scores.values() for p in row))
    labels = labels or {}
    width = 0.8 / max(len(representations), 1)
    x = np.arange(len(probes))
    with style.context():
        fig = style.new_figure(1.2 + 1.5 * len(probes), 3.4)
        ax = fig.subplots()
        for i, rep in enumerate(representations):
            values = [scores[rep].get(p, np.nan) for p in probes]
            bars = ax.bar(
                x + (i - (len(representations) - 1) / 2) * width, values, width, label=rep
            )
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set_xticks(x, [labels.get(p, p) for p in probes])
        ax.set_ylim(min([0.0, *(v for row in scores.values() for v in row.values())]), 1.1)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylabel("test score")
        ax.legend(title="features", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        fig.suptitle(title)
    return fig
