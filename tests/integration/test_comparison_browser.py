"""End to end: `aelab sweep` on tiny data, then its comparison.html in headless Chromium:
every figure decodes (the loss curves of the runs sharing one loss are an interactive Bokeh
figure in place of their PNG), nothing is fetched but the page, no console error, each
run's name links to its report, and (Playwright on the system Chromium) a click on a header
sorts the rows by that column, numerically, and a second click reverses them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aelab.cli.main import main
from browser import check_page, chromium_binary
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    if chromium_binary() is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    tmp_path = tmp_path_factory.mktemp("comparison-browser")
    data = tmp_path / "data"
    write_idx_dataset(data, n_train=96, n_test=20, shape=(8, 8), classes=3)
    out = tmp_path / "sweep"
    code = main([
        "sweep", "--preset", "r3-fashion-vanilla", "--vary", "model.latent_dim=2,4,3",
        "--dataset", f"idx:{data}", "--epochs", "2", "--set", "data.val_size=16",
        "--set", "train.batch_size=16", "--set", "train.threads=1", "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert code == 0
    return out


def test_sweep_comparison_opens_in_headless_chromium(sweep):
    page_path = sweep / "comparison.html"
    figures = sorted(sweep.glob("*.png"))
    assert {p.stem for p in figures} >= {"comparison_losses", "comparison_loss_curves"}
    page = check_page(page_path)
    assert page.title.startswith("aelab: Sweep of r3-fashion-vanilla")
    # every PNG but the loss curves' (shown as the Bokeh figure) is on the page and decodes
    assert len(page.images) == len(figures) - 1
    assert page.broken_images == [] and page.errors == []
    external = [u for u in page.requests if not u.startswith(("data:", page_path.as_uri()))]
    assert external == []
    html = page_path.read_text(encoding="utf-8")
    assert '<div class="interactive" id="comparison_loss_curves">' in html
    for name in ("latent_dim-2", "latent_dim-4", "latent_dim-3"):
        assert f'<a href="{name}/report.html">{name}</a>' in html


def test_clicking_a_header_sorts_the_rows(sweep):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with (sweep / "comparison.csv").open(encoding="utf-8") as f:
        mse = {r["name"]: float(r["test_mse"]) for r in csv.DictReader(f)}
    by_mse = sorted(mse, key=mse.get)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            errors, requests = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((sweep / "comparison.html").as_uri())
            page.wait_for_selector("#comparison_loss_curves canvas", timeout=15_000)

            def names() -> list[str]:
                return page.locator("#comparison tbody tr td:first-child").all_inner_texts()

            headers = page.locator("#comparison thead th")
            texts = headers.all_inner_texts()
            assert names() == ["latent_dim-2", "latent_dim-4", "latent_dim-3"]  # sweep order
            latent = headers.nth(next(i for i, t in enumerate(texts) if "latent_dim" in t))
            latent.click()
            assert names() == ["latent_dim-2", "latent_dim-3", "latent_dim-4"]
            assert latent.get_attribute("aria-sort") == "ascending"
            latent.click()
            assert names() == ["latent_dim-4", "latent_dim-3", "latent_dim-2"]
            mse_header = headers.nth(next(i for i, t in enumerate(texts) if "test MSE" in t))
            assert mse_header.get_attribute("title")  # the catalog definition stays
            mse_header.click()
            assert names() == by_mse
            assert page.locator("#comparison td.best").count() >= 1
            assert errors == []
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
        finally:
            browser.close()
