"""Render ``anomaly.html``: what ``aelab anomaly`` wrote (anomaly.json, roc.png,
extremes.png) on one self-contained page (figures embedded as base64 PNG, inline CSS,
nothing fetched). Labels, definitions, formats and directions come from the metric catalog;
the page computes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aelab.errors import CheckpointError
from aelab.metrics.catalog import Metric, by_path, lookup, section_metrics
from aelab.report.render import REPORT, _environment
from aelab.report.tables import format_value
from aelab.rundir import atomic_write_text

ANOMALY_PAGE = "anomaly.html"
ANOMALY_JSON = "anomaly.json"
ROC = "roc.png"
EXTREMES = "extremes.png"
MAPS = "maps.png"
FIGURES = {
    ROC: "ROC curves of the autoencoder's scores: one panel per score, one curve per normal "
    "class (its AUROC in the legend); the dashed diagonal is chance.",
    EXTREMES: "For each normal class, the test images its model finds most anomalous (highest "
    "score first) and least anomalous (lowest first), by the score named in the title. Each "
    "tile shows its score and its true class: blue for the normal class, orange for an anomaly.",
    MAPS: "Where each image is odd: for each normal class its most and least anomalous test "
    "images (top row), the model's reconstructions (middle) and the per-pixel anomaly maps "
    "(squared reconstruction error, Gaussian-smoothed; one colour scale for all maps).",
}


def _groups(section: Mapping[str, Any]) -> dict[str, list[Metric]]:
    """The catalog's anomaly scores present in ``section``, in catalog order, one table
    each: the scores' AUROCs, their AUPRCs (by the last segment of the path), and any other
    group by its middle one (``anomaly.threshold.*``)."""
    present = [
        m
        for m in section_metrics("anomaly")
        if m.direction and not m.is_pattern and lookup({"anomaly": section}, m) is not None
    ]
    last = [m.path.rsplit(".", 1)[1] for m in present]
    out: dict[str, list[Metric]] = {}
    for m, measure in zip(present, last, strict=True):
        key = measure if last.count(measure) > 1 else m.path.split(".")[1]
        out.setdefault(key, []).append(m)
    return out


def _comparable(columns: list[Metric]) -> bool:
    """One measure of several scores: a row's best among them means something."""
    return len({m.path.rsplit(".", 1)[1] for m in columns}) == 1


def _cells(section: Mapping[str, Any], columns: list[Metric]) -> list[dict[str, Any]]:
    """One cell per column; ``best`` marks the row's best by the catalog (when the columns
    are one measure of several scores)."""
    values = [lookup({"anomaly": section}, m) for m in columns]
    best = columns[0].best(values) if columns and _comparable(columns) else None
    return [
        {
            "text": format_value(v, m.fmt),
            "best": v is not None and v == best,
            "baseline": m.kind != "score",
        }
        for m, v in zip(columns, values, strict=True)
    ]


def _counts(section: Mapping[str, Any]) -> dict[str, str]:
    """The image counts (``anomaly.n_*``), formatted by the catalog."""
    out = {}
    for key, value in section.items():
        metric = by_path(f"anomaly.{key}")
        if key.startswith("n_") and metric is not None:
            out[key] = format_value(value, metric.fmt)
    return out


def _figure(out: Path, name: str) -> dict[str, str] | None:
    path = out / name
    if not path.exists():
        return None
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return {"name": path.stem, "caption": FIGURES[name], "data": data}


def render_anomaly_page(out_dir: str | Path) -> Path:
    """Write ``out_dir/anomaly.html`` from ``out_dir/anomaly.json`` and its figures."""
    out = Path(out_dir)
    source = out / ANOMALY_JSON
    if not source.exists():
        raise CheckpointError(
            f"{out} holds no {ANOMALY_JSON}; pass the --out folder of `aelab anomaly`."
        )
    payload = json.loads(source.read_text(encoding="utf-8"))
    sections = payload["sections"]
    first = sections[0]["anomaly"] if sections else {}
    counts = list(_counts(first))
    links = {}
    for entry in sections:
        run = entry.get("run")
        links[entry["class"]] = f"{run}/{REPORT}" if run and (out / run / REPORT).exists() else None
    tables = [
        {
            "measure": measure.upper() if _comparable(columns) else measure,
            "ranked": _comparable(columns),
            "better": "higher" if columns[0].higher_is_better else "lower",
            "columns": [
                {"label": m.label, "definition": m.definition, "baseline": m.kind != "score"}
                for m in columns
            ],
            "rows": [
                {
                    "label": entry["class"],
                    "name": entry["name"],
                    "report": links[entry["class"]],
                    "cells": _cells(entry["anomaly"], columns),
                    "counts": _counts(entry["anomaly"]),
                }
                for entry in sections
            ],
            "mean": _cells(payload["mean_section"], columns),
        }
        for measure, columns in _groups(first).items()
    ]
    settings = {
        k: v for k, v in first.get("info", {}).items() if k not in ("normal_class", "normal_name")
    }
    html = (
        _environment()
        .get_template("anomaly.html.j2")
        .render(
            title=payload.get("title", "one-class anomaly detection"),
            ranked_by=payload.get("ranked_by", ""),
            tables=tables,
            counts=counts,
            count_definition=by_path("anomaly.n_train").definition if counts else "",
            linked=any(links.values()),
            settings=settings,
            figures=[f for f in (_figure(out, name) for name in FIGURES) if f],
        )
    )
    path = out / ANOMALY_PAGE
    atomic_write_text(path, html)
    return path


__all__ = ["ANOMALY_PAGE", "EXTREMES", "MAPS", "ROC", "render_anomaly_page"]
