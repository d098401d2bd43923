"""A Markdown results page on disk: written section by section, its figures copied under a
size limit, parts of an earlier version of the page carried over, and a marked block of
another file (a README) rewritten in place from the page's README notes."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aelab.rundir import atomic_write_text

T = TypeVar("T")


def shrink_png(source: Path, target: Path, limit: int) -> None:
    """Copy ``source`` to ``target``; above ``limit`` bytes, re-encode with a 128-colour
    palette and scale down by 0.8 until it fits (or is a fifth of its size)."""
    from PIL import Image

    data = source.read_bytes()
    if len(data) <= limit:
        target.write_bytes(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = 1.0
    while True:
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        small = image.resize(size, Image.LANCZOS) if scale < 1 else image
        buf = io.BytesIO()
        small.quantize(colors=128).save(buf, format="PNG", optimize=True)
        if buf.tell() <= limit or scale < 0.2:
            target.write_bytes(buf.getvalue())
            return
        scale *= 0.8


def replace_block(path: Path, start: str, end: str, text: str) -> bool:
    """Replace what lies between the markers ``start`` and ``end`` in ``path`` with
    ``text`` (markers kept). False, touching nothing, when the file or a marker is missing."""
    if not path.exists():
        return False
    old = path.read_text(encoding="utf-8")
    i, j = old.find(start), old.find(end)
    if i < 0 or j < i:
        return False
    block = start + "\n" + text.strip() + "\n" + end
    atomic_write_text(path, old[:i] + block + old[j + len(end) :])
    return True


CARRIED = "*Carried over unchanged from "
README_NOTE = re.compile(r"^<!-- readme\n(.*?)\n-->$", re.MULTILINE | re.DOTALL)


def readme_note(lines: list[str]) -> list[str]:
    """``lines`` wrapped in an HTML comment (invisible on the page) that
    :func:`readme_notes` collects: what a part of the page shows on the front page. Carried
    with its part when the part is carried over."""
    return ["<!-- readme", *lines, "-->", ""]


def readme_notes(page_text: str) -> list[str]:
    """The README notes of a page, in page order."""
    return [m.group(1).strip("\n") + "\n" for m in README_NOTE.finditer(page_text)]


def split_headings(lines: list[str], prefix: str) -> tuple[list[str], dict[str, list[str]]]:
    """Lines before the first line starting with ``prefix``, and each such heading line
    with the lines under it (up to the next one)."""
    head: list[str] = []
    parts: dict[str, list[str]] = {}
    current = head
    for line in lines:
        if line.startswith(prefix):
            current = parts.setdefault(line.rstrip(), [])
        else:
            current.append(line)
    return head, parts


@dataclass(frozen=True)
class Earlier:
    """The parts of an earlier version of a page that an invocation may keep instead of
    rerunning them: its ``##`` sections by heading, and where they came from (``source``)."""

    sections: dict[str, list[str]]
    source: str

    @classmethod
    def read(cls, path: Path) -> Earlier | None:
        """The page at ``path`` (None when there is none). Its provenance comes from its
        header lines ``- Date:``, ``- Mode: **..**`` and ``commit ...``."""
        if not path.exists():
            return None
        head, sections = split_headings(path.read_text(encoding="utf-8").splitlines(), "## ")
        top = "\n".join(head)
        date = re.search(r"^- Date: (.+)$", top, re.MULTILINE)
        mode = re.search(r"^- Mode: \*\*(\w+)\*\*", top, re.MULTILINE)
        commit = re.search(r"commit ([0-9a-f]{7,40})", top)
        source = f"the page of {date.group(1) if date else 'an unknown date'}" + (
            f" (aelab commit {commit.group(1)}" + (f", {mode.group(1)} mode)" if mode else ")")
            if commit
            else ""
        )
        return cls(sections, source)

    def carry(self, heading: str, body: list[str] | None = None) -> list[str] | None:
        """Page lines for the part ``heading`` (a section, or ``body``'s subsection): the
        heading, a note naming where it came from (the first one: carrying twice keeps it)
        and its lines unchanged. None when the earlier page has no such part."""
        lines = self.sections.get(heading) if body is None else body
        if lines is None:
            return None
        start, end = 0, len(lines)
        while start < end and not lines[start].strip():
            start += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        kept = lines[start:end]
        if kept and kept[0].startswith(CARRIED):
            return [heading + "\n", *kept, ""]
        note = f"{CARRIED}{self.source}; not rerun by this invocation.*\n"
        return [heading + "\n", note, *kept, ""]


@dataclass
class Page:
    """A Markdown page of titled sections, rewritten after each one so that an interrupted
    invocation still leaves a page that says which sections it lacks.

    ``titles`` maps each section's key to its heading, in page order; ``chosen`` are the
    ones this invocation runs (the others are carried over from ``earlier`` when it has
    them, else get ``skipped_text``); ``notes`` go under the heading of the sections run;
    ``failures`` (shared, filled while sections run) become a last section; ``header``
    gives the lines above the sections at each write. ``carried`` names the parts kept from
    ``earlier`` (sections here, or subsections their callers add)."""

    path: Path
    titles: dict[str, str]
    chosen: tuple[str, ...]
    header: Callable[[], list[str]]
    failures: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    skipped_text: str = "Not run by this invocation.\n"
    earlier: Earlier | None = None
    done: dict[str, list[str]] = field(default_factory=dict)
    carried: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[str]:
        return [k for k in self.titles if k in self.chosen and k not in self.done]

    @property
    def complete(self) -> bool:
        """Every section ran in this invocation or was carried over (none merely skipped)."""
        skipped = [k for k, lines in self.done.items() if self.skipped_text in lines]
        return not self.pending and not skipped and len(self.done) == len(self.titles)

    def section(self, key: str, run: Callable[[], tuple[list[str], T]], empty: T) -> T:
        """Run section ``key`` (its lines start with its heading) or mark it skipped, then
        rewrite the page; what ``run`` returns (``empty`` when skipped)."""
        if key in self.chosen:
            lines, result = run()
        elif self.earlier and (kept := self.earlier.carry(self.titles[key])):
            lines, result = kept, empty
            self.carried.append(self.titles[key].lstrip("# "))
            self.notes.pop(key, None)  # the earlier page's own notes came with it
        else:
            lines, result = [self.titles[key] + "\n", self.skipped_text], empty
        self.done[key] = lines
        self.write()
        return result

    def write(self) -> list[str]:
        """Write the page as it stands; its header lines."""
        lines = []
        for key, section in self.done.items():
            note = [self.notes[key]] if key in self.notes else []
            lines += [*section[:1], *note, *section[1:]]
        if self.failures:
            lines += ["## Failed runs\n", *(f"- `{k}`: {v}" for k, v in self.failures.items()), ""]
        if self.pending:
            missing = f"{', '.join(self.pending)} had not run when this page was written"
            lines.append(f"## Not yet run\n\n**This page is incomplete**: {missing}.\n")
        top = self.header()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, "\n".join(top + lines) + "\n")
        return top
