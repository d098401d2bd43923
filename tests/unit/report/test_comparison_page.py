"""comparison.html: the overlaid loss curves are a Bokeh document (BokehJS inline, nothing
fetched), the PNG of the same stem is not embedded again, and every cell carries the raw
value the sort script reads (numbers as JavaScript parses them, blanks empty)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from aelab.metrics import catalog
from aelab.report.comparison import render_comparison, sort_key
from aelab.studies.compare import CurveGroup, interactive_loss_curves
from aelab.studies.table import config_column, display_rows, metric_column

TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def history(start: float, epochs: int = 4) -> list[dict[str, float]]:
    return [
        {"epoch": e, "train_loss": start / e, "val_loss": start / e + 0.1, "seconds": 1.0}
        for e in range(1, epochs + 1)
    ]


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]


def references(html: str) -> list[str]:
    """Every src/href attribute of the page's elements (not text inside its scripts)."""
    parser = _References()
    parser.feed(html)
    return parser.urls


def docs_json(html: str) -> dict:
    """The Bokeh document of the page (``components``' ``docs_json``)."""
    found = re.search(r"const docs_json = '(.*?)';\n", html, re.S)
    assert found, "no Bokeh document on the page"
    return json.loads(found.group(1).encode().decode("unicode_escape"))


def test_comparison_page_has_interactive_curves_and_sort_keys(tmp_path: Path) -> None:
    columns = [
        metric_column(catalog.get("name")),
        config_column("model.latent_dim"),
        metric_column(catalog.get("test_mse")),
    ]
    rows = [
        {"name": "a", "model.latent_dim": 16, "test_mse": 0.001, "run_dir": tmp_path / "a"},
        {"name": "b", "model.latent_dim": 4, "test_mse": 1e-05, "run_dir": tmp_path / "b"},
        {"name": "c", "model.latent_dim": 8, "test_mse": None, "run_dir": tmp_path / "c"},
    ]
    best = {"test_mse": 1e-05}
    group = CurveGroup(
        "comparison_loss_curves", "dense bce (mean)", {"a": history(1.0), "b": history(2.0)}
    )
    (tmp_path / "comparison_losses.png").write_bytes(TINY_PNG)
    (tmp_path / "comparison_loss_curves.png").write_bytes(TINY_PNG)  # comparison.md's
    path = render_comparison(
        tmp_path,
        rows=rows,
        columns=columns,
        cells=display_rows(rows, columns, best),
        notes=[],
        figures=[("comparison_losses", "bars"), (group.stem, group.caption)],
        interactive=interactive_loss_curves([group], title="T"),
    )
    html = path.read_text(encoding="utf-8")
    # One PNG (the bars); the loss curves are the Bokeh figure in their place, drawn offline.
    assert html.count('src="data:image/png;base64,') == 1
    assert f'<div class="interactive" id="{group.stem}">' in html
    assert [u for u in references(html) if not u.startswith("data:")] == []
    assert "Bokeh.embed.embed_items" in html and "const docs_json" in html
    doc = json.dumps(docs_json(html), ensure_ascii=False)
    for series in ("a · train", "a · val", "b · train", "b · val"):
        assert f'"{series}"' in doc, series
    assert "T · loss per epoch · dense bce (mean)" in doc
    # Sort keys: raw numbers (1e-05 below 0.001 whatever the shown text), blank last.
    keys = re.findall(r'<td[^>]*data-sort="([^"]*)"', html)
    assert keys == ["a", "16.0", "0.001", "b", "4.0", "1e-05", "c", "8.0", ""]
    # The best mark and the header tooltips stay.
    assert '<td class="best" data-sort="1e-05"><strong>' in html
    assert html.count('<th class="sortable" title="') == 3


def test_sort_key() -> None:
    assert sort_key(None) == "" and sort_key(float("nan")) == ""
    assert sort_key(float("inf")) == "Infinity" and sort_key(float("-inf")) == "-Infinity"
    assert sort_key(3) == "3.0" and sort_key("l1") == "l1" and sort_key(True) == "True"


def test_no_curves_without_a_loss_column(tmp_path: Path) -> None:
    group = CurveGroup("s", "x", {"a": [{"epoch": 1, "seconds": 2.0}], "b": []})
    assert interactive_loss_curves([group], title="T") == {}
