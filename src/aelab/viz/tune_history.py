"""The optimisation history of a hyper-parameter search: each trial's objective and the
best so far."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aelab.viz import style


def optimization_history(
    numbers: Sequence[int],
    values: Sequence[float],
    best: Sequence[float],
    *,
    objective: str,
    title: str,
) -> Figure:
    """``values[i]``: the objective of completed trial ``numbers[i]``; ``best[i]``: the best
    value up to and including it (by the objective's direction)."""
    with style.context():
        fig = style.new_figure(6.0, 3.2)
        ax = fig.subplots()
        x = np.asarray(numbers)
        ax.plot(x, np.asarray(values, dtype=float), "o", markersize=4, label="trial")
        ax.step(x, np.asarray(best, dtype=float), where="post", color="C3", label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel(objective)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if len(x):
            ax.legend()
        fig.suptitle(title)
    return fig
