"""ROC curves of anomaly scores: one panel per score, one curve per normal class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style


def roc_curves(
    curves: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float], float]]],
    *,
    title: str,
) -> Figure:
    """``curves[score_name][label] = (fpr, tpr, auroc)``: one panel per score name
    ("reconstruction", "code distance"), one line per label (the normal class)."""
    names = list(curves) or ["score"]
    with style.context():
        fig = style.new_figure(3.6 * len(names), 3.5)
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names, strict=True):
            for label, (fpr, tpr, auc) in curves.get(name, {}).items():
                ax.plot(np.asarray(fpr), np.asarray(tpr), lw=1.1, label=f"{label} ({auc:.3f})")
            ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="0.6")
            ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate")
            ax.set_ylabel("true-positive rate")
            ax.set_title(f"score: {name}")
            if curves.get(name):
                ax.legend(
                    fontsize=6, title="normal class (AUROC)", title_fontsize=6, loc="lower right"
                )
        fig.suptitle(title)
    return fig
