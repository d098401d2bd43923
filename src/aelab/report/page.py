"""A Markdown results page on disk: written section by section, its figures copied under a
size limit, and a marked block of another file (a README) rewritten in place."""

from __future__ import annotations

import io
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


@dataclass
class Page:
    """A Markdown page of titled sections, rewritten after each one so that an interrupted
    invocation still leaves a page that says which sections it lacks.

    ``titles`` maps each section's key to its heading, in page order; ``chosen`` are the
    ones this invocation runs (the others get ``skipped_text``); ``notes`` go under the
    heading of their sections; ``failures`` (shared, filled while sections run) become a last
    section; ``header`` gives the lines above the sections at each write."""

    path: Path
    titles: dict[str, str]
    chosen: tuple[str, ...]
    header: Callable[[], list[str]]
    failures: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    skipped_text: str = "Not run by this invocation.\n"
    done: dict[str, list[str]] = field(default_factory=dict)

    @property
    def pending(self) -> list[str]:
        return [k for k in self.titles if k in self.chosen and k not in self.done]

    def section(self, key: str, run: Callable[[], tuple[list[str], T]], empty: T) -> T:
        """Run section ``key`` (its lines start with its heading) or mark it skipped, then
        rewrite the page; what ``run`` returns (``empty`` when skipped)."""
        if key in self.chosen:
            lines, result = run()
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
