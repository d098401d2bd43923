"""aelab.report.page: a page written section by section, README blocks, figure size limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.report.page import (
    Earlier,
    Page,
    readme_note,
    readme_notes,
    replace_block,
    shrink_png,
    split_headings,
)


def test_page_marks_skipped_pending_failed_and_noted_sections(tmp_path: Path) -> None:
    titles = {"a": "## A", "b": "## B", "c": "## C"}
    failures: dict[str, str] = {}
    page = Page(
        tmp_path / "docs" / "results.md",
        titles,
        ("a", "c"),
        lambda: ["# top", ""],
        failures=failures,
        notes={"a": "> capped\n"},
        skipped_text="Not run here.\n",
    )
    assert page.section("a", lambda: (["## A\n", "body a\n"], 1), 0) == 1
    text = page.path.read_text()
    assert text == "# top\n\n## A\n\n> capped\n\nbody a\n\n## Not yet run\n\n" + (
        "**This page is incomplete**: c had not run when this page was written.\n\n"
    )
    assert page.section("b", lambda: (["## B\n", "never"], 1), 0) == 0  # not chosen
    failures["c/run"] = "boom"
    page.section("c", lambda: (["## C\n", "body c\n"], None), None)
    text = page.path.read_text()
    assert "## B\n\nNot run here.\n" in text and "never" not in text
    assert text.endswith("## Failed runs\n\n- `c/run`: boom\n\n")
    assert "Not yet run" not in text and page.pending == []


def test_replace_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    assert not replace_block(readme, "<!-- s -->", "<!-- e -->", "x")  # no file
    readme.write_text("head\n<!-- s -->\nold\n<!-- e -->\ntail\n")
    assert replace_block(readme, "<!-- s -->", "<!-- e -->", "\nnew\n")
    assert readme.read_text() == "head\n<!-- s -->\nnew\n<!-- e -->\ntail\n"
    readme.write_text("no markers\n")
    assert not replace_block(readme, "<!-- s -->", "<!-- e -->", "new")
    assert readme.read_text() == "no markers\n"


def test_shrink_png_fits_the_limit(tmp_path: Path) -> None:
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    source = tmp_path / "big.png"
    Image.fromarray(noise).save(source)
    small, same = tmp_path / "small.png", tmp_path / "same.png"
    shrink_png(source, small, limit=60_000)
    assert source.stat().st_size > 60_000 >= small.stat().st_size
    assert Image.open(small).size[0] < 300
    shrink_png(source, same, limit=10**9)
    assert same.read_bytes() == source.read_bytes()


EARLIER = """# results

- Mode: **full** (the references' epochs)
- Date: 2026-11-23 17:54 UTC
- aelab 0.1.0, commit 03689d3d1fb1

## A

old a

## B

intro b

### B1

| x |
|---|
| 1 |

<!-- readme
b1 on the front page
-->

### B2

old b2

## Failed runs

- `b/x`: boom
"""


def test_parts_not_run_are_carried_over_with_their_source(tmp_path: Path) -> None:
    old = tmp_path / "old.md"
    old.write_text(EARLIER, encoding="utf-8")
    earlier = Earlier.read(old)
    assert earlier is not None and Earlier.read(tmp_path / "none.md") is None
    assert (
        earlier.source == "the page of 2026-11-23 17:54 UTC (aelab commit 03689d3d1fb1, full mode)"
    )
    assert list(earlier.sections) == ["## A", "## B", "## Failed runs"]
    intro, parts = split_headings(earlier.sections["## B"], "### ")
    assert [ln for ln in intro if ln] == ["intro b"] and list(parts) == ["### B1", "### B2"]

    carried: list[str] = []
    titles = {"a": "## A", "b": "## B", "c": "## C"}
    page = Page(
        tmp_path / "new.md",
        titles,
        ("a",),
        lambda: ["# top", ""],
        notes={"b": "> capped\n", "c": "> capped\n"},
        skipped_text="Not run here.\n",
        earlier=earlier,
        carried=carried,
    )
    page.section(
        "a", lambda: (["## A\n", "new a\n", *readme_note(["a on the front page\n"])], 1), 0
    )
    assert not page.complete  # b and c still to come
    page.section("b", lambda: (["## B\n", "never"], 1), 0)
    page.section("c", lambda: (["## C\n", "never"], 1), 0)
    text = page.path.read_text(encoding="utf-8")
    note = "*Carried over unchanged from the page of 2026-11-23 17:54 UTC (aelab commit"
    b = text.split("## B\n", 1)[1].split("## C\n")[0]
    assert b.startswith(f"\n{note} 03689d3d1fb1, full mode); not rerun by this invocation.*\n")
    assert "intro b\n\n### B1\n\n| x |\n|---|\n| 1 |\n" in b and "old b2" in b
    assert "> capped" not in b and "old a" not in text and "boom" not in text
    assert "## C\n\n> capped\n\nNot run here.\n" in text  # nothing to carry: skipped
    assert carried == ["B"] and not page.complete
    assert readme_notes(text) == ["a on the front page\n", "b1 on the front page\n"]

    # Carried again, a part keeps the note naming where it was computed.
    again = Earlier(Earlier.read(page.path).sections, "the page of today")
    kept = again.carry("### B1", ["", f"{note} x).*", "", "| x |", ""])
    assert kept == ["### B1\n", f"{note} x).*", "", "| x |", ""]
    assert again.carry("## D") is None

    full = Page(tmp_path / "full.md", titles, ("a", "c"), lambda: [], earlier=earlier)
    for key in titles:
        full.section(key, lambda k=key: ([f"## {k.upper()}\n", "new\n"], None), None)
    assert full.complete  # a and c ran, b was carried over
