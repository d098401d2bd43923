"""aelab.report.page: a page written section by section, README blocks, figure size limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.report.page import Page, replace_block, shrink_png


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
