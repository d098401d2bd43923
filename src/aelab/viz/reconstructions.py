"""Original vs reconstruction: fixed test images over one or more rows of reconstructions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.viz.grid import image_rows


def pick_examples(
    labels: np.ndarray | None, n: int = 10, *, total: int | None = None
) -> np.ndarray:
    """Indices of the fixed example images: the first image of each class (classes in
    ascending order, at most ``n``), or the first ``n`` of ``total`` images when unlabelled.

    The same indices for every run on the same split, so figures are comparable.
    """
    if labels is None:
        if total is None:
            raise ValueError("pick_examples: pass total= when there are no labels")
        return np.arange(min(n, total))
    labels = np.asarray(labels)
    classes, first = np.unique(labels, return_index=True)
    return first[np.argsort(classes, kind="stable")][:n]


def reconstruction_grid(
    originals: np.ndarray,
    reconstructions: np.ndarray | Mapping[str, np.ndarray],
    *,
    title: str,
    column_labels: Sequence[str] | None = None,
) -> Figure:
    """Originals (N, C, H, W) on top, then one row per reconstruction (same shape).

    ``reconstructions`` is one array (row "reconstruction") or ``{row label: array}``, so a
    comparison of many runs is the same figure with more rows.
    """
    if not isinstance(reconstructions, Mapping):
        reconstructions = {"reconstruction": reconstructions}
    rows = [originals, *reconstructions.values()]
    labels = ["original", *reconstructions.keys()]
    return image_rows(rows, title=title, row_labels=labels, column_labels=column_labels)
