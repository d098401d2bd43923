"""``aelab cluster RUN --method n2d`` end to end on a tiny run whose classes are well
separated (4 random templates plus noise, 12x12): the N2D columns beside the k-means
baselines, its settings and figures in report.html and its scores in ``aelab compare``;
``--method all``; the one-line error of a missing aelab[umap] before anything is loaded."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aelab.cli.main import main
from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.metrics.catalog import by_path, undocumented
from aelab.models.dense import DenseConfig
from aelab.reuse.cluster import METHODS
from aelab.reuse.n2d import UMAP_EXTRA
from report_html import read_page

pytest.importorskip("umap", reason="umap-learn (aelab[umap]) is not installed")
# numba compiles UMAP on first use (tens of seconds): one worker pays it once
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("umap")]

CLASSES = 4
FAST = ["--n-init", "2", "--max-iter", "10", "--update-interval", "5"]


def separated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 12, 12) uint8 images: class k is a fixed random template plus pixel noise of
    std 20 (templates differ by ~100 per pixel): classes a nearest-centroid rule separates."""
    templates = np.random.default_rng(7).uniform(0, 255, size=(CLASSES, 1, 12, 12))
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % CLASSES)
    images = templates[labels] + rng.normal(0, 20, size=(n, 1, 12, 12))
    return np.clip(images, 0, 255).round().astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dense 144-32-8-32-144 autoencoder trained with `aelab train` on the separated data."""
    root = tmp_path_factory.mktemp("cluster-n2d")
    (x_train, y_train), (x_test, y_test) = separated(264, 1), separated(120, 2)
    np.savez(root / "sep.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    RunConfig(
        name="sep",
        data=DataConfig(dataset=f"npz:{root / 'sep.npz'}", validation="split", val_size=24),
        model=DenseConfig(latent_dim=8, hidden=(32,)),
        train=TrainConfig(epochs=20, batch_size=32, lr=3e-3, device="cpu", threads=1),
    ).save(root / "sep.toml")
    args = ["train", "--config", str(root / "sep.toml"), "--out", str(root / "run")]
    assert main([*args, "--no-eval", "--quiet"]) == 0
    return root / "run"


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def test_n2d_scores_section_figures_report_and_compare(run: Path, tmp_path, capsys) -> None:
    args = ["cluster", str(run), "--method", "n2d", "--n-init", "2"]
    assert main([*args, "--umap-neighbors", "15", "--gmm-n-init", "2"]) == 0
    captured = capsys.readouterr()
    assert "N2D: mixture on UMAP of the code" in captured.out
    for step in ("UMAP: nearest-neighbour graph", "UMAP transform:", "Gaussian mixture:"):
        assert step in captured.err, captured.err
    metrics = json.loads((run / "metrics.json").read_text())
    section = metrics["cluster"]
    assert list(section["scores"]) == ["pixels", "pca", "code", "umap_kmeans", "n2d"]
    assert "idec" not in section and section["settings"]["methods"] == "kmeans, n2d"
    # well-separated classes: UMAP + mixture recovers them on the held-out test images
    assert section["scores"]["n2d"]["nmi"] > 0.9, section["scores"]
    assert section["scores"]["umap_kmeans"]["nmi"] > 0.9, section["scores"]
    umap = section["umap"]
    assert (umap["umap_neighbors"], umap["umap_min_dist"], umap["umap_metric"]) == (
        15,
        0.0,
        "euclidean",
    )
    assert (umap["umap_dims"], umap["gmm_n_init"], section["settings"]["seed"]) == (CLASSES, 2, 0)
    assert undocumented(metrics) == []
    saved = json.loads((run / "cluster" / "cluster.json").read_text())
    assert saved == section

    page = read_page((run / "report.html").read_text(encoding="utf-8"))
    assert page.json_in_text() == []
    scores = page.section_tables("cluster")[0]
    assert [row[0] for row in scores.rows] == list(section["scores"])
    figures = {i.figure for i in page.images}
    for stem in ("n2d_by_cluster", "n2d_by_class", "n2d_clusters"):
        assert f"fig-cluster-{stem}" in figures
    assert "fig-cluster-codes_by_cluster" not in figures  # no IDEC, no IDEC figure
    html = (run / "report.html").read_text(encoding="utf-8")
    assert by_path("cluster.umap.umap_neighbors").kind == "setting" and "umap_neighbors" in html

    out = tmp_path / "cmp"
    assert main(["compare", str(run), "--out", str(out), "--quiet"]) == 0
    with open(out / "comparison.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    for m in ("nmi", "ari", "acc"):
        for method in ("n2d", "umap_kmeans"):
            value = float(row[f"cluster_{method}_{m}"])
            assert value == pytest.approx(section["scores"][method][m])
    assert "cluster_idec_nmi" not in row  # a metric no run has leaves no column


def test_method_all_runs_every_method_in_table_order(run: Path, capsys) -> None:
    assert main(["cluster", str(run), "--method", "all", *FAST, "--umap-dims", "2"]) == 0
    section = json.loads((run / "metrics.json").read_text())["cluster"]
    assert list(section["scores"]) == list(METHODS)
    assert section["umap"]["umap_dims"] == 2 and section["dims"]["n2d"] == 2
    assert section["settings"]["methods"] == "kmeans, idec, n2d"
    assert {"idec", "umap", "gmm", "kmeans_umap"} <= set(section["seconds"])
    table = capsys.readouterr().out
    for label in ("k-means: pixels", "IDEC: fine-tuned code", "k-means: UMAP of the code"):
        assert label in table
    for stem in ("codes_by_cluster", "clusters", "n2d_by_cluster", "n2d_clusters"):
        assert (run / "cluster" / f"{stem}.png").stat().st_size > 0


def test_the_default_keeps_kmeans_and_idec(run: Path, capsys) -> None:
    assert main(["cluster", str(run), *FAST, "--json", "--no-write", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed["scores"]) == ["pixels", "pca", "code", "idec"]
    assert "umap" not in printed and printed["settings"]["methods"] == "kmeans, idec"


def test_missing_extra_is_one_line_before_anything_is_loaded(
    run: Path, capsys, monkeypatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "umap" else real(name, *a)
    )
    before = (run / "metrics.json").read_text()
    assert main(["cluster", str(run), "--method", "n2d"]) == 2
    err = capsys.readouterr().err
    assert err == f"aelab cluster: error: {UMAP_EXTRA}\n"  # no "loading the run" status first
    assert "pip install 'aelab[umap]'" in err
    assert (run / "metrics.json").read_text() == before and not (run / "cluster").exists()
    # the default methods need no extra
    assert main(["cluster", str(run), "--method", "kmeans", "--n-init", "2", "--quiet"]) == 0


def test_bad_n2d_settings_name_their_flag(run: Path, capsys) -> None:
    assert main(["cluster", str(run), "--method", "n2d", "--umap-neighbors", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aelab cluster: error: --umap-neighbors: n_neighbors=1 is invalid")
    assert main(["cluster", str(run), "--method", "n2d", "--umap-metric", "euclidian"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Did you mean 'euclidean'" in err


def test_cluster_results_lists_n2d_with_its_command(run: Path, tmp_path: Path) -> None:
    """benchmarks/cluster_results.py on an N2D run: its table verbatim, the command that
    wrote it, N2D's verdict against the baselines and its figures."""
    args = ["cluster", str(run), "--method", "n2d", "--n-init", "2", "--gmm-covariance", "diag"]
    assert main([*args, "--quiet"]) == 0
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            *(sys.executable, str(root / "benchmarks" / "cluster_results.py"), str(run)),
            *("--out-dir", str(tmp_path / "results")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (tmp_path / "results" / "cluster.md").read_text(encoding="utf-8")
    assert (run / "cluster" / "cluster.md").read_text(encoding="utf-8").strip() in page
    command = f"`aelab cluster {run} --method n2d --n-init 2 --gmm-covariance diag`"
    assert f"Command: {command}" in page
    scores = json.loads((run / "cluster" / "cluster.json").read_text())["scores"]
    wins = all(
        scores["n2d"][m] > scores[b][m] for b in ("pixels", "pca", "code") for m in ("nmi", "acc")
    )
    verdict = "N2D beats k-means on pixels, PCA and the frozen code in NMI and accuracy"
    assert f"{verdict}: **{'yes' if wins else 'no'}**" in page
    assert "IDEC beats" not in page
    assert (tmp_path / "results" / "cluster" / "run-n2d_by_class.png").stat().st_size > 0
