"""What a test needs to see of a rendered page: its tables (by id), links and images."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class PageParts(HTMLParser):
    """``tables[id]``: rows of ``(cell text, cell class)`` (th and td); ``links``: every
    href ending in .html; ``images``: how many <img>; ``ids``: every element id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str]]]] = {}
        self.links: list[str] = []
        self.images = 0
        self.ids: set[str] = set()
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._class = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "table":
            self._table = a.get("id") or f"unnamed-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell, self._class = [], a.get("class") or ""
        elif tag == "a" and (a.get("href") or "").endswith(".html"):
            self.links.append(a["href"])
        elif tag == "img":
            self.images += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(("".join(self._cell).strip(), self._class))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def texts(self, table: str) -> list[list[str]]:
        """The cell texts of ``table``, row by row."""
        return [[text for text, _ in row] for row in self.tables[table]]


def page_parts(path: str | Path) -> PageParts:
    parts = PageParts()
    parts.feed(Path(path).read_text(encoding="utf-8"))
    return parts
