"""End to end: train a tiny run, `aelab evaluate` it, open report.html in headless Chromium.

The report must render in a real browser: the right title, every image decoded
(naturalWidth > 0), no console error, and nothing fetched but the file itself.
"""

from __future__ import annotations

import pytest

from aelab.cli.main import main
from browser import check_page, chromium_binary
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration


@pytest.fixture
def evaluated_run(tmp_path):
    data = tmp_path / "data"
    write_idx_dataset(data, n_train=96, n_test=20, shape=(8, 8), classes=3)
    run_dir = tmp_path / "run"
    code = main([
        "train", "--preset", "r1-fashion-sparse", "--dataset", f"idx:{data}", "--epochs", "2",
        "--set", "data.val_size=16", "--set", "data.validation=split", "--set",
        "train.batch_size=16", "--set", "train.threads=1", "--set", "name=tiny-browser",
        "--device", "cpu", "--out", str(run_dir), "--quiet", "--no-eval",
    ])  # fmt: skip
    assert code == 0
    assert main(["evaluate", str(run_dir), "--quiet"]) == 0
    return run_dir


def test_report_opens_in_headless_chromium(evaluated_run):
    if chromium_binary() is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    report = evaluated_run / "report.html"
    figures = sorted((evaluated_run / "figures").glob("*.png"))
    assert len(figures) >= 5
    page = check_page(report)
    assert page.title == "aelab report: tiny-browser"
    assert len(page.images) == len(figures)
    assert page.broken_images == []
    assert page.errors == []
    external = [u for u in page.requests if not u.startswith(("data:", report.as_uri()))]
    assert external == []


def test_report_with_probe_and_cluster_in_headless_chromium(evaluated_run, monkeypatch, tmp_path):
    """After `aelab probe` and `aelab cluster`: their sections are tables, their figures
    decode in Chromium, nothing logs an error and no JSON text is on the page."""
    if chromium_binary() is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    from aelab.report.interactive import read_code_map
    from aelab.viz import SECTION_FIGURES
    from report_html import read_page

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run = str(evaluated_run)
    assert main(["probe", run, "--quiet"]) == 0
    args = ["cluster", run, "--n-init", "2", "--max-iter", "10", "--update-interval", "5"]
    assert main([*args, "--quiet"]) == 0
    report = evaluated_run / "report.html"
    # the code map can now be coloured by the final method's (IDEC's) test clusters
    stored = read_code_map(evaluated_run)
    assert stored is not None and len(stored.extra["cluster"]) == len(stored) == 20
    assert set(stored.extra["cluster"].tolist()) <= set(range(3))
    page = read_page(report.read_text(encoding="utf-8"))
    assert page.section_tables("downstream") and page.section_tables("cluster")
    assert page.json_in_text() == []
    shown = check_page(report)
    assert shown.errors == [] and shown.broken_images == []
    pngs = [*evaluated_run.glob("figures/*.png"), *evaluated_run.glob("*/*.png")]
    assert len(shown.images) == len(set(pngs))
    alts = {image["alt"] for image in shown.images}
    # SECTION_FIGURES lists every figure a section can have; N2D's need `--methods n2d`
    # (and the umap extra), so the captions expected are those of the figures drawn.
    drawn = {
        s: {p.stem for p in (evaluated_run / s).glob("*.png")} for s in ("downstream", "cluster")
    }
    assert {"codes_by_cluster", "codes_by_class", "clusters"} <= drawn["cluster"]
    for section, stems in drawn.items():
        assert stems and stems <= set(SECTION_FIGURES[section]), section
        assert {SECTION_FIGURES[section][s] for s in stems} <= alts, section
