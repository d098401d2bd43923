"""Render ``comparison.html``: the comparison table (each run linked to its report, the best
value of each score column in bold, each header's catalog definition as its tooltip), the
best run, the notes and the figures on one self-contained page (figures embedded as base64
PNG, inline CSS, nothing fetched)."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aelab.report.render import REPORT, _environment
from aelab.rundir import atomic_write_text

COMPARISON = "comparison.html"


def report_link(run_dir: str | Path, out_dir: Path) -> str | None:
    """The run's report.html relative to ``out_dir`` (a URL path), or None without one."""
    report = Path(run_dir) / REPORT
    if not report.exists():
        return None
    return quote(Path(os.path.relpath(report.resolve(), out_dir.resolve())).as_posix())


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
) -> Path:
    """Write ``out_dir/comparison.html`` and return it.

    ``columns``: objects with ``key``, ``header`` and ``definition``; ``cells``: per row,
    ``{key: (text, is_best)}`` already formatted (``aelab.report.tables.format_value``);
    ``rows``: the rows' ``name`` and ``run_dir`` (for the links); ``figures``: ``(stem,
    caption)`` of PNGs already saved in ``out_dir``; ``ranking``: the sentence naming the
    best run."""
    out = Path(out_dir)
    table = [
        {
            "link": report_link(row["run_dir"], out),
            "cells": [{"text": cell[c.key][0], "best": cell[c.key][1]} for c in columns],
        }
        for row, cell in zip(rows, cells, strict=True)
    ]
    embedded = [
        {
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
        )
    )
    path = out / COMPARISON
    atomic_write_text(path, html)
    return path
