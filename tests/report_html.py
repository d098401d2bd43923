"""Read an HTML page the way a person sees it: its visible text, its tables (header cells
and rows) and its images, with the standard library's ``html.parser``."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

HIDDEN = {"head", "script", "style", "template"}
JSON_MARKS = ('{"', '": {', '": [', "[{", '":')


@dataclass
class Table:
    section: str  # id of the enclosing <section>, "" outside one
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Image:
    section: str
    figure: str  # id of the enclosing <figure>
    src: str
    alt: str


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.text: list[str] = []
        self.tables: list[Table] = []
        self.images: list[Image] = []
        self.sections: list[str] = []
        self.figure = ""
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.header_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in HIDDEN:
            self.hidden += 1
        elif tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "figure":
            self.figure = a.get("id") or ""
        elif tag == "img":
            section = self.sections[-1] if self.sections else ""
            self.images.append(Image(section, self.figure, a.get("src") or "", a.get("alt") or ""))
        elif tag == "table":
            self.tables.append(Table(self.sections[-1] if self.sections else ""))
        elif tag == "tr":
            self.row, self.header_row = [], True
        elif tag in ("td", "th"):
            self.cell = []
            self.header_row &= tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden -= 1
        elif tag == "section" and self.sections:
            self.sections.pop()
        elif tag == "figure":
            self.figure = ""
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.tables:
            table = self.tables[-1]
            if self.header_row and not table.headers and not table.rows:
                table.headers = self.row
            else:
                table.rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


@dataclass
class Page:
    text: str
    tables: list[Table]
    images: list[Image]

    def section_tables(self, section: str) -> list[Table]:
        return [t for t in self.tables if t.section == f"section-{section}"]

    def json_in_text(self) -> list[str]:
        """The marks of JSON (``{"``, ``": {`` ...) found in the visible text."""
        return [mark for mark in JSON_MARKS if mark in self.text]


def read_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Page(" ".join(reader.text), reader.tables, reader.images)
