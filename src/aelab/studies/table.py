"""The comparison table of many runs: its columns, the best value of each score column, the
best run by a metric, and the table as Markdown and CSV.

The columns come from the metric catalog (:mod:`aelab.metrics.catalog`): the run's
identity, the config keys the runs differ in, then the comparable scores and informative
numbers of every metrics.json section, in catalog order. Reading runs into rows is
:mod:`aelab.studies.compare`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aelab.metrics import catalog
from aelab.metrics.catalog import SECTIONS, Metric
from aelab.report.tables import csv_table, format_value, markdown_table

# The catalog keys (run section) that say which run a row is: always shown, in this order.
IDENTITY = ("name", "dataset", "family", "regularizer", "latent_dim", "parameters", "epochs")
# The run's own objective on the test split: a column only when all runs share one loss.
LOSS = "test_loss"


@dataclass(frozen=True)
class Column:
    """One column of the comparison: a catalog metric, or a config key the runs vary in
    (``metric`` None). ``definition`` is the header's tooltip on the page."""

    key: str
    header: str
    fmt: str = ""
    metric: Metric | None = None
    definition: str = ""

    @property
    def section(self) -> str:
        """The metrics.json section of the column, "config" for a varied config key."""
        return self.metric.section if self.metric is not None else "config"

    @property
    def marks_best(self) -> bool:
        """A score that means the same for every run: its best value is marked."""
        m = self.metric
        return m is not None and m.comparable and m.kind == "score" and m.direction is not None


def metric_column(metric: Metric, mark: str = "") -> Column:
    """The column of a catalog entry; its tooltip is the entry's definition, unit and
    direction."""
    extra = [metric.unit] if metric.unit else []
    if metric.direction is not None:
        extra.append(f"{'higher' if metric.higher_is_better else 'lower'} is better")
    definition = metric.definition + (f" ({'; '.join(extra)})" if extra else "")
    header = f"{metric.label} {mark}" if mark else metric.label
    return Column(metric.key, header, metric.fmt, metric, definition)


def config_column(key: str) -> Column:
    return Column(key, key, "", None, f"config.toml key {key}: the runs differ in it.")


def is_column(metric: Metric) -> bool:
    """Whether a catalog entry of a section makes a column: a comparable score of the model,
    or an informative number of it (one with a unit). Baselines' scores, settings, lists,
    patterns and the run's own loss (``LOSS``, shown apart) are not columns."""
    if metric.is_pattern or metric.key in IDENTITY or metric.kind == "setting":
        return False
    if metric.kind == "info" and metric.direction is not None:
        return False  # a baseline's score (PCA, pixels, ...): the same for every run
    if metric.comparable:
        return True
    return bool(metric.unit) and metric.unit != catalog.CATALOG[LOSS].unit


def section_columns(section: str) -> list[Metric]:
    """The catalog entries of ``section`` that are columns, in catalog order."""
    return [m for m in catalog.section_metrics(section) if is_column(m)]


# The sections after the run's identity, in catalog order; the run's own numbers (train
# time, throughput) come last: they say how it ran, not how good it is.
TABLE_SECTIONS = tuple(s for s in SECTIONS if s != "run")
CANDIDATES: tuple[Metric, ...] = (
    catalog.CATALOG[LOSS],
    *(m for s in (*TABLE_SECTIONS, "run") for m in section_columns(s)),
)


@dataclass
class Table:
    """The rows, their columns and the notes of a comparison, before anything is written."""

    rows: list[dict[str, Any]]
    columns: list[Column]
    notes: list[str]
    varied: list[str]


def best_values(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> dict[str, Any]:
    """The best value of each score column by its catalog direction (columns no run has
    left out)."""
    out = {}
    for column in columns:
        if column.marks_best and column.metric is not None:
            best = column.metric.best([r.get(column.key) for r in rows])
            if best is not None:
                out[column.key] = best
    return out


def rank(rows: Sequence[dict[str, Any]], metric: Metric) -> tuple[str | None, str]:
    """The best run by ``metric`` and the sentence saying so: ``best by test MSE (lower is
    better): vae 0.07004``; the first of tied runs wins."""
    best = metric.best([r.get(metric.key) for r in rows])
    if best is None:
        written = SECTIONS[metric.section].written_by
        return None, f"no run has {metric.label} (written by {written}): no best run"
    name = next(r["name"] for r in rows if r.get(metric.key) == best)
    better = "higher" if metric.higher_is_better else "lower"
    value = format_value(best, metric.fmt)
    return name, f"best by {metric.label} ({better} is better): {name} {value}"


def display_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], best: Mapping[str, Any]
) -> list[dict[str, tuple[str, bool]]]:
    """Each cell as ``(text, is_best)``: the number formatted by ``format_value``."""
    return [
        {
            c.key: (
                format_value(row.get(c.key), c.fmt),
                c.key in best and row.get(c.key) == best[c.key],
            )
            for c in columns
        }
        for row in rows
    ]


def markdown_text(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], best: Mapping[str, Any]
) -> str:
    """The Markdown table, the best value of each score column in bold."""
    cells = [
        {k: f"**{text}**" if is_best and text else text for k, (text, is_best) in row.items()}
        for row in display_rows(rows, columns, best)
    ]
    return markdown_table(cells, [(c.key, c.header, "") for c in columns])


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """comparison.csv: the ``columns`` (catalog keys and varied config keys) at full
    precision, then the run folder."""
    return csv_table(rows, [c.key for c in columns] + ["run_dir"])
