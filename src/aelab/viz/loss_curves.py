"""Training and validation loss per epoch: one run's loss parts, or several runs sharing
one loss definition overlaid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aelab.viz import style


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def loss_parts(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The loss parts a history has (``loss`` first): ``train_X`` / ``val_X`` -> ``X``."""
    parts: list[str] = []
    for row in history:
        for key in row:
            prefix, _, part = key.partition("_")
            if prefix in ("train", "val") and part and part not in parts:
                parts.append(part)
    return sorted(parts, key=lambda p: (p != "loss", p != "reconstruction", p))


def loss_curves(history: Sequence[Mapping[str, Any]], *, title: str) -> Figure:
    """``history`` rows as in ``history.csv`` (``epoch``, ``train_loss``, ``val_loss``,
    ``train_reconstruction``, ...); values may be strings. Empty values are gaps."""
    parts = loss_parts(history) or ["loss"]
    epochs = [_number(row.get("epoch", i + 1)) for i, row in enumerate(history)]
    with style.context():
        fig = style.new_figure(3.2 * len(parts), 3.0)
        axes = fig.subplots(1, len(parts), squeeze=False)[0]
        for ax, part in zip(axes, parts, strict=True):
            for split, marker in (("train", "o"), ("val", "s")):
                values = [_number(row.get(f"{split}_{part}")) for row in history]
                if all(math.isnan(v) for v in values):
                    continue
                ax.plot(epochs, values, marker=marker, markersize=3, label=split)
            ax.set_title(part)
            ax.set_xlabel("epoch")
            # integer=True alone still ticks 0.945, 0.96, ... when a one-epoch run leaves a
            # tick-sized window around epoch 1; min_n_ticks=1 lets it settle on [1].
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            if ax.has_data():
                ax.legend()
        fig.suptitle(title)
    return fig


def overlay_loss_curves(
    histories: Mapping[str, Sequence[Mapping[str, Any]]], *, title: str
) -> Figure:
    """The total loss per epoch of several runs on shared axes: one panel for training, one
    for validation, one line per run (``{run name: history rows}``). Only for runs whose
    losses share one definition: otherwise the lines do not compare."""
    with style.context():
        fig = style.new_figure(7.0, 3.2)
        axes = fig.subplots(1, 2, squeeze=False)[0]
        for ax, split in zip(axes, ("train", "val"), strict=True):
            for name, history in histories.items():
                values = [_number(row.get(f"{split}_loss")) for row in history]
                if all(math.isnan(v) for v in values):
                    continue
                epochs = [_number(row.get("epoch", i + 1)) for i, row in enumerate(history)]
                ax.plot(epochs, values, marker="o", markersize=3, label=name)
            ax.set_title(f"{split} loss")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            if ax.has_data():
                ax.legend(fontsize=7)
        fig.suptitle(title)
    return fig
