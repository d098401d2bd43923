"""Figures that compare many runs: metric bars, sweep lines, the reconstruction-vs-L0
trade-off and pictures side by side. Each takes plain arrays and returns a ``Figure``.

The grid of the same test images reconstructed by every run is
``aelab.viz.reconstructions.reconstruction_grid`` with one row per run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.viz import style


def metric_bars(
    names: Sequence[str],
    metrics: Mapping[str, Sequence[float | None]],
    *,
    title: str,
) -> Figure:
    """One horizontal bar panel per metric (``{"test MSE": [v per run]}``); a missing value
    (None or NaN) leaves its bar out and says "n/a" in its place."""
    n_runs = max(len(names), 1)
    with style.context():
        fig = style.new_figure(3.2 * max(len(metrics), 1) + 1.2, 0.9 + 0.28 * n_runs)
        axes = fig.subplots(1, max(len(metrics), 1), squeeze=False)[0]
        y = np.arange(len(names))
        for ax, (label, values) in zip(axes, metrics.items(), strict=False):
            vals = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
            ax.barh(y, np.nan_to_num(vals, nan=0.0), color="#4c72b0")
            finite = vals[np.isfinite(vals)]
            span = float(finite.max()) if finite.size else 1.0
            for i, v in enumerate(vals):
                text = "n/a" if not np.isfinite(v) else f"{v:.4g}"
                ax.text(
                    0 if not np.isfinite(v) else v + 0.01 * span, i, text, va="center", fontsize=7
                )
            ax.set_yticks(y, names if ax is axes[0] else [""] * len(names))
            ax.invert_yaxis()
            ax.set_xlabel(label)
            ax.set_xlim(0, span * 1.25 if span > 0 else 1.0)
        fig.suptitle(title)
    return fig


def _positions(values: Sequence[object]) -> tuple[np.ndarray, list[str] | None, bool]:
    """x positions of the varied values: numbers as themselves (log scale when they span a
    factor of 8 or more and are positive), anything else as categories."""
    try:
        xs = np.array([float(v) for v in values], dtype=float)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.arange(len(values), dtype=float), [str(v) for v in values], False
    positive = bool(np.all(xs > 0))
    log = positive and len(xs) > 1 and xs.max() / xs.min() >= 8
    return xs, None, log


def sweep_lines(
    varied: str,
    series: Mapping[str, tuple[Sequence[object], Mapping[str, Sequence[float | None]]]],
    *,
    title: str,
) -> Figure:
    """Each metric against the varied value: one panel per metric, one line per series.

    ``series``: ``{label: (x values, {metric: [y per x]})}``; a single series may have the
    label ``""``. Missing y values (None) break the line."""
    metric_names: list[str] = []
    for _, metrics in series.values():
        metric_names += [m for m in metrics if m not in metric_names]
    n = max(len(metric_names), 1)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    with style.context():
        fig = style.new_figure(max(3.3 * ncols, 5.0), 2.6 * nrows + 0.4)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, metric in zip(axes, metric_names, strict=False):
            for label, (xs_raw, metrics) in series.items():
                if metric not in metrics:
                    continue
                xs, ticks, log = _positions(xs_raw)
                ys = np.array([np.nan if v is None else float(v) for v in metrics[metric]])
                if ticks is None:  # numbers: joined in increasing order, whatever --vary said
                    order = np.argsort(xs, kind="stable")
                    xs, ys = xs[order], ys[order]
                ax.plot(xs, ys, marker="o", label=label or None)
                if log:
                    ax.set_xscale("log", base=2)
                    ax.set_xticks(xs, [f"{x:g}" for x in xs])
                    ax.minorticks_off()
                elif ticks is not None:
                    ax.set_xticks(xs, ticks)
            ax.set_xlabel(varied)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            if any(label for label in series) and ax is axes[0]:
                ax.legend()
        for ax in axes[len(metric_names) :]:
            ax.set_axis_off()
        fig.suptitle(title)
    return fig


def tradeoff_scatter(
    points: Mapping[str, Sequence[tuple[float, float, str]]],
    *,
    title: str,
    xlabel: str = "mean L0 (active code units per image)",
    ylabel: str = "test MSE",
) -> Figure:
    """Reconstruction against code sparsity, one coloured line per mechanism.

    ``points``: ``{mechanism: [(l0, error, annotation), ...]}``; lower-left is better."""
    with style.context():
        fig = style.new_figure(5.2, 3.8)
        ax = fig.subplots()
        for label, pts in points.items():
            pts = sorted(
                (p for p in pts if p[0] is not None and p[1] is not None), key=lambda p: p[0]
            )
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [p[1] for p in pts]
            ax.plot(xs, ys, marker="o", label=label)
            for x, y, note in pts:
                if note:
                    ax.annotate(note, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if points:
            ax.legend()
        ax.set_title(title)
    return fig


def side_by_side(images: Mapping[str, np.ndarray], *, title: str) -> Figure:
    """Whole pictures (H, W, 3 or 4 arrays, e.g. saved figures read back) in one row, each
    under its label: the "feature tiles side by side" view."""
    n = max(len(images), 1)
    with style.context():
        fig = style.new_figure(3.6 * n, 3.9)
        axes = fig.subplots(1, n, squeeze=False)[0]
        for ax, (label, image) in zip(axes, images.items(), strict=False):
            ax.imshow(image, interpolation="lanczos")
            ax.set_title(label)
            ax.set_axis_off()
        fig.suptitle(title)
    return fig
