"""End to end: `aelab sweep` on tiny data, then its comparison.html in headless Chromium:
every figure decodes (the loss curves of the runs sharing one loss among them), nothing is
fetched but the page, no console error, and each run's name links to its report."""

from __future__ import annotations

import pytest

from aelab.cli.main import main
from browser import check_page, chromium_binary
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration


def test_sweep_comparison_opens_in_headless_chromium(tmp_path):
    if chromium_binary() is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    data = tmp_path / "data"
    write_idx_dataset(data, n_train=96, n_test=20, shape=(8, 8), classes=3)
    out = tmp_path / "sweep"
    code = main([
        "sweep", "--preset", "r3-fashion-vanilla", "--vary", "model.latent_dim=2,4",
        "--dataset", f"idx:{data}", "--epochs", "2", "--set", "data.val_size=16",
        "--set", "train.batch_size=16", "--set", "train.threads=1", "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert code == 0
    page_path = out / "comparison.html"
    figures = sorted(out.glob("*.png"))
    assert {p.stem for p in figures} >= {"comparison_losses", "comparison_loss_curves"}
    page = check_page(page_path)
    assert page.title.startswith("aelab: Sweep of r3-fashion-vanilla")
    assert len(page.images) == len(figures) and page.broken_images == [] and page.errors == []
    external = [u for u in page.requests if not u.startswith(("data:", page_path.as_uri()))]
    assert external == []
    html = page_path.read_text(encoding="utf-8")
    for name in ("latent_dim-2", "latent_dim-4"):
        assert f'<a href="{name}/report.html">{name}</a>' in html
