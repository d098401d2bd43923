"""Render ``comparison.html``: the comparison table (each run linked to its report, the best
value of each score column in bold, each header's catalog definition as its tooltip, sorted
by a click on a header), the best run, the notes and the figures on one self-contained page
(figures embedded as base64 PNG, the interactive ones as Bokeh with BokehJS inline, inline
CSS and script, nothing fetched)."""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aelab.report.interactive import bokeh_resources
from aelab.report.render import REPORT, _environment
from aelab.rundir import atomic_write_text

COMPARISON = "comparison.html"


def report_link(run_dir: str | Path, out_dir: Path) -> str | None:
    """The run's report.html relative to ``out_dir`` (a URL path), or None without one."""
    report = Path(run_dir) / REPORT
    if not report.exists():
        return None
    return quote(Path(os.path.relpath(report.resolve(), out_dir.resolve())).as_posix())


def sort_key(value: Any) -> str:
    """A cell's value as the table's sort script reads it: a number as JavaScript's
    ``Number()`` parses it (1e-05 sorts below 0.001 whatever the shown format; infinite PSNR
    as Infinity), anything else as text, blank (or NaN) as ""."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return ""
        return repr(number) if math.isfinite(number) else ("-" if number < 0 else "") + "Infinity"
    return str(value)


def render_comparison(
    out_dir: str | Path,
    *,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Any],
    cells: Sequence[Mapping[str, tuple[str, bool]]],
    notes: Sequence[str],
    figures: Sequence[tuple[str, str]],
    title: str = "Comparison",
    ranking: str = "",
    interactive: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``out_dir/comparison.html`` and return it.

    ``columns``: objects with ``key``, ``header`` and ``definition``; ``cells``: per row,
    ``{key: (text, is_best)}`` already formatted (``aelab.report.tables.format_value``);
    ``rows``: the rows' ``name`` and ``run_dir`` (for the links); ``figures``: ``(stem,
    caption)`` of PNGs already saved in ``out_dir``; ``ranking``: the sentence naming the
    best run; ``interactive``: ``{stem: Bokeh figure}`` shown instead of that stem's PNG.
    Each cell carries its row's raw value (``data-sort``) so that sorting is numeric."""
    out = Path(out_dir)
    table = [
        {
            "link": report_link(row["run_dir"], out),
            "cells": [
                {"text": cell[c.key][0], "best": cell[c.key][1], "sort": sort_key(row.get(c.key))}
                for c in columns
            ],
        }
        for row, cell in zip(rows, cells, strict=True)
    ]
    script, divs = "", {}
    if interactive:
        from bokeh.embed import components

        script, divs = components(dict(interactive))
    embedded = [
        {"name": stem, "caption": caption, "div": divs[stem]}
        if stem in divs
        else {
            "name": stem,
            "caption": caption,
            "data": base64.b64encode((out / f"{stem}.png").read_bytes()).decode("ascii"),
        }
        for stem, caption in figures
    ]
    html = (
        _environment()
        .get_template("comparison.html.j2")
        .render(
            title=f"aelab: {title}",
            headers=[{"text": c.header, "title": c.definition} for c in columns],
            table=table,
            ranking=ranking,
            notes=list(notes),
            figures=embedded,
            bokeh=bokeh_resources() if script else "",
            bokeh_script=script,
        )
    )
    path = out / COMPARISON
    atomic_write_text(path, html)
    return path
