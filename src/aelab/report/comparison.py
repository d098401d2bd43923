"""Render ``comparison.html``: the comparison table, its notes and figures on one
self-contained page (figures embedded as base64 PNG, inline CSS, nothing fetched)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aelab.report.render import _environment
from aelab.report.tables import format_value
from aelab.rundir import atomic_write_text

COMPARISON = "comparison.html"


def render_comparison(
    out_dir: str | Path,
    *,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Any],
    notes: Sequence[str],
    figures: Sequence[tuple[str, str]],
    title: str = "Comparison",
) -> Path:
    """Write ``out_dir/comparison.html`` from the rows (``compare.COLUMNS`` keys), the notes
    and ``figures`` (``(stem, caption)`` of PNGs already saved in ``out_dir``); return it."""
    out = Path(out_dir)
    table = [[format_value(row.get(c.key), c.fmt) for c in columns] for row in rows]
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
            headers=[c.header for c in columns],
            table=table,
            notes=list(notes),
            figures=embedded,
        )
    )
    path = out / COMPARISON
    atomic_write_text(path, html)
    return path
