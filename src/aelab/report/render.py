"""Render ``report.html`` from what a run directory holds; the report computes nothing.

Every section of metrics.json becomes tables described by the metric catalog
(``aelab.metrics.catalog``: titles, labels, definitions, formats): sibling groups of
scores with the same fields (downstream: representation x probe; cluster: method x NMI,
ARI, accuracy) as one 2-D table, other numbers as a label / value / definition table,
settings as a compact list, lists as their length. A section's figures are the PNGs of
``RUN/<section>/`` (the downstream tasks write them there, ``aelab.reuse.task``); the
evaluation's are those of ``RUN/figures/``. A section the catalog does not know (from a
plugin) is a table of its values, marked so.

The page is self-contained: figures are embedded as base64 PNG, the CSS is inline and
nothing is fetched from the network, so it can be mailed or archived as one file. The
interactive code map and loss curves (Bokeh, BokehJS inlined) read the files the evaluation
stored under ``RUN/figures/code_map/`` (:mod:`aelab.report.interactive`).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from aelab.config import load_toml
from aelab.errors import CheckpointError
from aelab.metrics.catalog import SECTIONS, Metric, by_path, leaves, lookup
from aelab.report.interactive import interactive_figures
from aelab.report.tables import format_number, format_value
from aelab.rundir import CONFIG, atomic_write_text, read_history, read_metrics, run_lock
from aelab.viz import FIGURES, SECTION_FIGURES

REPORT = "report.html"
LAST = ("run",)  # shown after the other sections and the figures


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aelab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


# --------------------------------------------------------------------------- cells


def cell_text(value: Any, metric: Metric | None = None) -> str:
    """One value as the report shows it: the catalog's format for numbers (4 significant
    digits without one), yes/no, a dash for missing, a list as its length."""
    if isinstance(value, (list, tuple)):
        return f"{len(value)} values"
    if value is None or isinstance(value, bool):
        return format_number(value)
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return format_value(value) or "–"
    fmt = metric.fmt if metric is not None else ""
    if fmt and isinstance(value, (int, float)):
        return format_value(value, fmt)
    return format_number(value)


@dataclass(frozen=True)
class Row:
    """One value: its label, catalog key, shown value and definition ("" if unknown)."""

    label: str
    key: str
    value: str
    definition: str = ""
    unit: str = ""


@dataclass(frozen=True)
class Cell:
    value: str
    definition: str = ""


@dataclass
class Matrix:
    """A 2-D table: one row per name (``rows``), one column per field."""

    title: str
    columns: list[Row]  # the column's label, and the definition of its first row's entry
    rows: list[tuple[str, list[Cell]]]
    definitions: list[Row]  # every cell's catalog entry, for the definitions list


@dataclass
class SectionView:
    name: str
    title: str
    known: bool
    written_by: str = ""
    matrices: list[Matrix] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    settings: list[Row] = field(default_factory=list)
    uncatalogued: list[str] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)


def _value(metrics: Mapping[str, Any], path: str, raw: Any, metric: Metric | None) -> Any:
    """The value at ``path``: through the catalog (an infinite PSNR is stored as null)."""
    return lookup(metrics, metric) if metric is not None and not metric.is_pattern else raw


def _label(metric: Metric, path: str) -> str:
    """The catalog's label; for a pattern entry (``cluster.seconds.*``) with the name, for
    a pattern setting (``cluster.settings.*``) the name alone."""
    if not metric.is_pattern:
        return metric.label
    name = path.rsplit(".", 1)[1]
    return name if metric.kind == "setting" else f"{metric.label}: {name}"


def _column_label(metric: Metric | None, row: str, column: str) -> str:
    """A column's header: the label of its first cell's entry, less that row's name
    ("NMI (pixels)" -> "NMI")."""
    if metric is None:
        return column
    return metric.label.removesuffix(f" ({row})")


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple))


def _matrix(view_metrics: Mapping[str, Any], prefix: str, node: Mapping, names: list[str]):
    columns = list(node[names[0]])
    first = [by_path(f"{prefix}{names[0]}.{c}") for c in columns]
    header = [
        Row(_column_label(m, names[0], c), m.key if m else c, "", m.definition if m else "")
        for m, c in zip(first, columns, strict=True)
    ]
    rows, definitions = [], []
    for name in names:
        cells = []
        for column in columns:
            path = f"{prefix}{name}.{column}"
            metric = by_path(path)
            value = _value(view_metrics, path, node[name][column], metric)
            cells.append(Cell(cell_text(value, metric), metric.definition if metric else ""))
            if metric is not None:
                definitions.append(
                    Row(metric.label, metric.key, "", metric.definition, metric.unit)
                )
        rows.append((name, cells))
    title = prefix.rstrip(".").split(".", 1)[1] if "." in prefix.rstrip(".") else ""
    return Matrix(title.replace("_", " "), header, rows, definitions)


def _named_values(path: str, node: Mapping) -> Row | None:
    """A flat mapping whose values one pattern entry describes (``cluster.seconds.*``) as
    one row, "name value" pairs side by side; None for any other mapping."""
    entries = {by_path(f"{path}.{name}") for name in node}
    metric = entries.pop() if len(entries) == 1 else None
    if metric is None or not metric.is_pattern or metric.kind == "setting":
        return None
    if not all(map(_is_scalar, node.values())):
        return None
    text = " · ".join(f"{name} {cell_text(value, metric)}" for name, value in node.items())
    return Row(metric.label, metric.key, text, metric.definition, metric.unit)


def _walk(metrics: Mapping[str, Any], node: Mapping, prefix: str, view: SectionView) -> None:
    """Fill ``view`` from the mapping ``node`` at dotted ``prefix``: groups of two or more
    flat sibling mappings with the same fields become one matrix; the rest row by row."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, value in node.items():
        if isinstance(value, Mapping) and value and all(map(_is_scalar, value.values())):
            entries = [by_path(f"{prefix}{name}.{k}") for k in value]
            settings = all(m is not None and m.kind == "setting" for m in entries)
            if not settings and _named_values(f"{prefix}{name}", value) is None:
                groups.setdefault(tuple(value), []).append(name)
    in_matrix = set()
    for names in groups.values():
        if len(names) >= 2:
            view.matrices.append(_matrix(metrics, prefix, node, names))
            in_matrix.update(names)
    for name, value in node.items():
        path = f"{prefix}{name}"
        if name in in_matrix:
            continue
        if isinstance(value, Mapping) and (row := _named_values(path, value)) is not None:
            view.rows.append(row)
            continue
        if isinstance(value, Mapping):
            _walk(metrics, value, f"{path}.", view)
            continue
        metric = by_path(path)
        if metric is None:
            view.uncatalogued.append(path)
            label = path.split(".", 1)[1] if "." in path else path
            view.rows.append(Row(label, "", cell_text(value)))
            continue
        row = Row(
            _label(metric, path),
            metric.key,
            cell_text(_value(metrics, path, value, metric), metric),
            metric.definition,
            metric.unit,
        )
        (view.settings if metric.kind == "setting" else view.rows).append(row)


def _section(metrics: Mapping[str, Any], name: str, run_dir: Path) -> SectionView:
    values = metrics[name]
    known = name in SECTIONS
    view = SectionView(
        name,
        SECTIONS[name].title if known else name.replace("_", " "),
        known,
        SECTIONS[name].written_by if known else "",
        figures=_figures(run_dir / name, SECTION_FIGURES.get(name, {}), f"{name}-"),
    )
    if not known:  # a plugin's section: its values, path by path
        node = values if isinstance(values, Mapping) else {"": values}
        for path, value in leaves(node):
            view.rows.append(Row(path or name, "", cell_text(value)))
        return view
    _walk(metrics, values if isinstance(values, Mapping) else {}, f"{name}.", view)
    return view


# --------------------------------------------------------------------------- figures


def _figures(folder: Path, captions: Mapping[str, str], prefix: str = "") -> list[dict[str, str]]:
    """Every ``folder/*.png``: those in ``captions`` in its order, then any others; each
    named ``prefix + stem`` (the figure's id on the page)."""
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    order = {stem: i for i, stem in enumerate(captions)}
    paths.sort(key=lambda p: (order.get(p.stem, len(order)), p.stem))
    return [
        {
            "name": f"{prefix}{p.stem}",
            "caption": captions.get(p.stem, p.stem.replace("_", " ")),
            "data": base64.b64encode(p.read_bytes()).decode("ascii"),
        }
        for p in paths
        if not p.name.startswith(".")
    ]


def run_name(run_dir: str | Path, metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """The name a run goes by everywhere (report title, figure titles): the name training
    recorded in metrics.json, else the config's name or preset, else the folder's name."""
    run_dir = Path(run_dir)
    run = metrics.get("run")
    return str(
        (run.get("name") if isinstance(run, Mapping) else None)
        or config.get("name")
        or config.get("preset")
        or run_dir.resolve().name
    )


def section_order(metrics: Mapping[str, Any]) -> list[str]:
    """The sections of ``metrics`` in page order: the catalog's, then others as found;
    ``LAST`` excluded (it follows the figures)."""
    known = [name for name in SECTIONS if name in metrics and name not in LAST]
    return known + [name for name in metrics if name not in SECTIONS]


def render_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from its config, metrics.json and figures; return it."""

    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG
    metrics = read_metrics(run_dir)
    if not config_path.exists() and not metrics:
        raise CheckpointError(
            f"{run_dir} holds no run (no {CONFIG}, no metrics.json); "
            "pass the directory a training run wrote, e.g. runs/r1-fashion-sparse."
        )
    config_text = config_path.read_text(encoding="utf-8") if config_path.exists() else None
    config = load_toml(config_path) if config_text is not None else {}
    name = run_name(run_dir, metrics, config)
    run = metrics.get("run")
    template = _environment().get_template("report.html.j2")
    html = template.render(
        title=f"aelab report: {name}",
        name=name,
        config_text=config_text,
        run=run if isinstance(run, Mapping) else {},
        reconstruction=metrics.get("reconstruction"),
        pca=metrics.get("pca"),
        sections=[_section(metrics, s, run_dir) for s in section_order(metrics)],
        last=[_section(metrics, s, run_dir) for s in LAST if s in metrics],
        figures=_figures(run_dir / "figures", FIGURES),
        interactive=interactive_figures(run_dir, read_history(run_dir), name),
    )
    path = run_dir / REPORT
    with run_lock(run_dir, "writing the report of"):
        atomic_write_text(path, html)
    return path
