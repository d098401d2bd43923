"""Render ``tune.html``: the trials of a search, its optimisation history and parameter
importances on one self-contained page (figures as base64 PNG, inline CSS, nothing
fetched). :mod:`aelab.studies.tune_page` gathers what it shows; this lays it out."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aelab.report.render import _environment
from aelab.report.tables import format_value
from aelab.rundir import atomic_write_text

TUNE_PAGE = "tune.html"
HISTORY = "tune_history.png"
HISTORY_CAPTION = (
    "The objective of each completed trial (dots) and the best value so far (line); pruned "
    "and failed trials have no value."
)


def _param(value: Any) -> str:
    return format_value(value, ".4g" if isinstance(value, float) else "")


def render_tune_page(
    out_dir: str | Path,
    *,
    title: str,
    objective: Mapping[str, str],
    params: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    best_trial: int | None,
    importances: Mapping[str, float],
    importances_note: str,
) -> Path:
    """Write ``out_dir/tune.html``. ``objective``: name, label, definition, fmt, direction;
    ``rows``: number, state, params {name: value}, value, seconds, report (a relative link
    or None); ``importances``: {parameter: importance}, or ``importances_note`` saying why
    there are none. The history figure is ``out_dir/tune_history.png`` when it exists."""
    out = Path(out_dir)
    table = [
        {
            "number": row["number"],
            "state": row["state"],
            "params": [_param(row["params"].get(p)) for p in params],
            "value": format_value(row["value"], objective["fmt"]),
            "seconds": format_value(row["seconds"], ".1f"),
            "report": row["report"],
            "best": row["number"] == best_trial,
        }
        for row in rows
    ]
    figure = None
    if (out / HISTORY).exists():
        data = base64.b64encode((out / HISTORY).read_bytes()).decode("ascii")
        figure = {"name": "tune_history", "caption": HISTORY_CAPTION, "data": data}
    html = (
        _environment()
        .get_template("tune.html.j2")
        .render(
            title=title,
            objective=objective,
            params=list(params),
            table=table,
            best_trial=best_trial,
            states={
                s: sum(r["state"] == s for r in rows)
                for s in dict.fromkeys(r["state"] for r in rows)
            },
            importances=[(k, format_value(v, ".3f")) for k, v in importances.items()],
            importances_note=importances_note,
            figure=figure,
        )
    )
    path = out / TUNE_PAGE
    atomic_write_text(path, html)
    return path


__all__ = ["HISTORY", "TUNE_PAGE", "render_tune_page"]
