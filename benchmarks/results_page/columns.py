"""The page's table columns and numbers, read from the metric catalog
(``aelab.metrics.catalog``): a metric's column header is its catalog label and its cells use
the catalog's format, so the page says what ``aelab metrics`` says. The page declares only
what is not a metric: the columns naming the rows (a run, a swept setting) and the numbers a
claim computes for the page alone (which take the format of the metric they apply).

A column is the ``(row key, header, format)`` triple that ``aelab.report.tables`` prints.
"""

from __future__ import annotations

from typing import Any

from aelab.metrics import catalog
from aelab.report.tables import format_value

Column = tuple[str, str, str]


def metric(key: str, field: str | None = None, header: str = "{}") -> Column:
    """The column of catalog metric ``key`` read from ``row[field or key]``, headed by its
    label placed in ``header`` (``metric("test_mse", "dense", "dense {}")``: "dense test MSE")."""
    m = catalog.get(key)
    return (field or key, header.format(m.label), m.fmt)


def text_column(field: str, header: str) -> Column:
    """A column naming the rows (a run, a mechanism, a setting): no metric, printed as is."""
    return (field, header, "")


def evidence(field: str, header: str, like: str) -> Column:
    """A number a claim computes for the page (not in metrics.json), printed in the format of
    the catalog metric ``like`` whose definition it applies (an MSE on noise images: test_mse)."""
    return (field, header, catalog.get(like).fmt)


def label(key: str) -> str:
    """Catalog metric ``key``'s label, for prose that names a column."""
    return catalog.get(key).label


def show(key: str, value: Any) -> str:
    """``value`` of catalog metric ``key`` in the catalog's format ("n/a" when missing)."""
    return format_value(value, catalog.get(key).fmt) or "n/a"


def ranked(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """``rows`` best first by catalog metric ``key`` (its direction), rows lacking it left out;
    ``key`` must mean the same for every run (catalog.rankable)."""
    m = catalog.rankable(key)
    kept = [r for r in rows if r.get(key) is not None]
    return sorted(kept, key=lambda r: r[key], reverse=bool(m.higher_is_better))


def better(key: str, a: float, b: float) -> bool:
    """Is ``a`` strictly better than ``b`` by catalog metric ``key``'s direction?"""
    return catalog.get(key).better(a, b)
