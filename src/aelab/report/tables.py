"""Every number and table aelab prints or writes is formatted here: one formatter for
Markdown/CSV cells, one for people (reports), and the Markdown / CSV / text table writers.

``format_value``: a table cell (blank for missing, ``fmt`` applied); ``format_number``:
4 significant digits for reports. Tables take rows (dicts) and columns ``(key, header,
fmt)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


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


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A GitHub Markdown table of ``rows`` (dicts); ``columns`` are ``(key, header, fmt)``;
    the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
    for row in rows:
        cells = [format_value(row.get(k), fmt).replace("|", "\\|") for k, _, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
