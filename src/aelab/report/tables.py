"""Every number and table aelab prints or writes is formatted here: one formatter for
Markdown/CSV cells, one for people (reports), and the Markdown / CSV / text table writers.

``format_value``: a table cell (blank for missing, ``fmt`` applied); ``format_number``:
4 significant digits for reports. The writers take rows (dicts) and columns ``(key,
header, fmt)`` (or anything with ``key``, ``header`` and ``fmt`` attributes):
``markdown_table``, ``csv_table`` (full precision) and ``text_table`` (aligned, for
terminals).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any, Protocol

ALIGN = {"": "---", "left": ":---", "right": "---:"}


class ColumnLike(Protocol):
    key: str
    header: str
    fmt: str


Columns = Sequence[ColumnLike | tuple[str, str, str]]


def format_value(value: Any, fmt: str = "") -> str:
    """Markdown cell text: blank for missing, "inf" for infinite, else ``fmt`` applied."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, float) and math.isnan(value):
        return ""
    if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, fmt)
    return str(value)


def format_number(value: Any, digits: int = 4) -> str:
    """Numbers for people: 4 significant digits, ints as they are, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    return str(value)


def _columns(columns: Columns) -> list[tuple[str, str, str]]:
    return [c if isinstance(c, tuple) else (c.key, c.header, c.fmt) for c in columns]


def markdown_table(
    rows: Sequence[dict[str, Any]], columns: Columns, *, align: Sequence[str] | None = None
) -> str:
    """A GitHub Markdown table of ``rows``, cells by ``format_value`` ("|" escaped).

    ``align``: one of "", "left", "right" per column; by default the first column is
    unaligned and the others right-aligned (numbers)."""
    cols = _columns(columns)
    align = align or ["", *["right"] * (len(cols) - 1)]
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |"]
    lines.append("|" + "|".join(ALIGN[a] for a in align) + "|")
    for row in rows:
        cells = [format_value(row.get(k), fmt).replace("|", "\\|") for k, _, fmt in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    """CSV of ``rows`` with a header of ``keys``: floats at full precision (``repr``),
    missing values as empty cells."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        cells = [row.get(k) for k in keys]
        writer.writerow(
            ["" if v is None else repr(float(v)) if isinstance(v, float) else v for v in cells]
        )
    return buf.getvalue()


def text_table(
    rows: Sequence[dict[str, Any]], columns: Columns, *, first: int = 16, width: int = 12
) -> str:
    """A plain-text table for terminals: the first column left-aligned in ``first``
    characters, the others right-aligned in ``width``, a dashed rule under the header."""
    cols = _columns(columns)
    (key, header, fmt), rest = cols[0], cols[1:]
    head = f"{header:<{first}}" + "".join(f"{h:>{width}}" for _, h, _ in rest)
    lines = [head, "-" * len(head)]
    for row in rows:
        cells = "".join(f"{format_value(row.get(k), f):>{width}}" for k, _, f in rest)
        lines.append(f"{format_value(row.get(key), fmt):<{first}}" + cells)
    return "\n".join(lines)
