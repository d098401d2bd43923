"""End to end: `aelab anomaly` and `aelab tune` on tiny data write anomaly.html and
tune.html, and each opens in headless Chromium with its tables and figures, no console
error and nothing fetched but the file itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aelab.cli.main import main
from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.models.dense import DenseConfig
from browser import check_page, chromium_binary
from fakedata import tiny_splits, write_idx_dataset

pytestmark = pytest.mark.integration


def open_in_chromium(page: Path):
    if chromium_binary() is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    check = check_page(page)
    assert check.errors == []
    assert check.broken_images == []
    external = [u for u in check.requests if not u.startswith(("data:", page.as_uri()))]
    assert external == []
    return check


def test_anomaly_page_opens_in_chromium(tmp_path):
    data = tiny_splits(264, shape=(1, 12, 12), classes=4, n_test=120)
    np.savez(
        tmp_path / "tiny.npz",
        x_train=data.train.images, y_train=data.train.labels,
        x_test=data.test.images, y_test=data.test.labels,
    )  # fmt: skip
    RunConfig(
        name="tiny",
        data=DataConfig(dataset=f"npz:{tmp_path / 'tiny.npz'}", validation="split", val_size=24),
        model=DenseConfig(latent_dim=8, hidden=(32,)),
        train=TrainConfig(epochs=4, batch_size=16, lr=3e-3, device="cpu", threads=1),
    ).save(tmp_path / "tiny.toml")
    out = tmp_path / "anomaly"
    args = ["anomaly", "--config", str(tmp_path / "tiny.toml"), "--normal-class", "3"]
    assert main([*args, "--save-runs", "--out", str(out), "--quiet"]) == 0
    page = out / "anomaly.html"
    html = page.read_text()
    assert 'id="table-auroc"' in html and 'id="table-auprc"' in html
    assert 'href="class-3/report.html"' in html
    check = open_in_chromium(page)
    assert check.title.startswith("one-class anomaly detection")
    assert [img["alt"][:3] for img in check.images] == ["ROC", "For", "Whe"]  # roc, extremes, maps
    assert "anomaly" in (out / "class-3" / "metrics.json").read_text()


def test_tune_page_opens_in_chromium(tmp_path):
    optuna = pytest.importorskip("optuna")
    del optuna
    write_idx_dataset(tmp_path / "idx", n_train=96, n_test=24, shape=(8, 8), classes=4)
    out = tmp_path / "tune"
    args = [
        "tune", "--preset", "r3-fashion-vanilla",
        "--set", f"data.dataset=idx:{tmp_path / 'idx'}", "--set", "data.val_size=16",
        "--set", "train.batch_size=16", "--set", "train.threads=1",
        "--set", "train.figures=basic", "--epochs", "1",
        "--search", "model.latent_dim=int:2:16:log", "--search", "train.lr=float:1e-4:3e-2:log",
        "--trials", "2", "--no-prune", "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    page = out / "tune.html"
    html = page.read_text()
    assert 'id="trials-table"' in html and html.count(">report</a>") == 2
    assert 'id="importances-table"' in html
    check = open_in_chromium(page)
    assert check.title == "aelab tune: aelab-tune"
    assert len(check.images) == 1  # the optimisation history
