"""Rankings that mean something: the comparison, the family study and the sweep name the
best run by a metric that means the same for every run (test MSE by default), mark the best
value of each score column by its catalog direction, never compare losses of different
definitions, and link every run's report; probe and varied-parameter columns appear."""

from __future__ import annotations

import csv
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from aelab.errors import ConfigError
from aelab.rundir import read_metrics
from aelab.studies.compare import compare_runs
from conftest import VAL

SETS = {"data.val_size": VAL, "train.batch_size": 32, "train.threads": 1}


class Page(HTMLParser):
    """The links, header tooltips and bold cells of comparison.html."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.titles: dict[str, str] = {}
        self.best: list[tuple[int, int, str]] = []  # (row, column, text)
        self._th: str | None = None
        self._row, self._col, self._in_best = -2, -1, False  # the header row is -1

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append(attrs["href"])
        elif tag == "th":
            self._th = attrs.get("title", "")
        elif tag == "tr":
            self._row, self._col = self._row + 1, -1
        elif tag == "td":
            self._col += 1
            self._in_best = attrs.get("class") == "best"

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_best = False

    def handle_data(self, data):
        if self._th is not None:
            self.titles[data] = self._th
            self._th = None
        elif self._in_best and data.strip():
            self.best.append((self._row, self._col, data))


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def study(idx_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A family study of the dense BCE autoencoder and the VAE (summed MSE + KL), trained
    3 epochs on the tiny data. Real training gives losses and MSE that disagree in order:
    the dense model's own loss (BCE per pixel, about 0.68) is far below the VAE's (MSE
    summed over 784 pixels plus KL, about 60), yet the VAE reconstructs better by test
    MSE (checked in the test, so the test cannot pass by accident)."""
    from aelab.studies.family_study import run_family_study

    out = tmp_path_factory.mktemp("study")
    lines: list[str] = []
    result = run_family_study(
        out,
        dataset=f"idx:{idx_dir}",
        latent_dim=8,
        epochs=3,
        sets=SETS,
        members=["vanilla", "vae"],
        log=lines.append,
    )
    return result, lines


def test_family_study_ranks_by_test_mse_not_by_the_losses(study) -> None:
    result, lines = study
    runs = {name: read_metrics(result.out_dir / name) for name in ("vanilla", "vae")}
    losses = {n: m["run"]["best_val_loss"] for n, m in runs.items()}
    mse = {n: m["reconstruction"]["mse"] for n, m in runs.items()}
    assert losses["vanilla"] < losses["vae"] and mse["vae"] < mse["vanilla"], (losses, mse)

    comparison = result.comparison
    assert comparison.rank_by == "test_mse" and comparison.best == "vae"
    winner = f"best by test MSE (lower is better): vae {mse['vae']:.5f}"
    summary = lines[-1].splitlines()  # the study ends with its table and the winner
    assert summary[-1] == winner and "test MSE" in summary[0]
    assert [row.split()[0] for row in summary[2:-1]] == ["vanilla", "vae"]
    # The progress line ranks by test MSE too, never by the runs' own losses.
    progress = [line for line in lines if line.startswith("[2/2]")]
    assert progress and "best test MSE" in progress[0] and "(vae)" in progress[0]
    assert not any("val loss" in line for line in lines)
    # The losses differ in definition: no test loss column, and a note says why.
    header = csv_rows(result.out_dir / "comparison.csv")[0]
    assert "test_loss" not in header and "test_mse" in header
    assert any("loss definitions differ" in n for n in comparison.notes)
    md = (result.out_dir / "comparison.md").read_text()
    assert f"**Best by test MSE (lower is better): vae {mse['vae']:.5f}.**" in md


def test_rank_by_another_metric_and_bad_names(study, tmp_path: Path) -> None:
    result, _ = study
    runs = [result.out_dir / "vanilla", result.out_dir / "vae"]
    ssim = {p.name: read_metrics(p)["reconstruction"]["ssim"] for p in runs}
    by_ssim = compare_runs(runs, tmp_path / "ssim", rank_by="test_ssim", n_images=2)
    assert by_ssim.best == max(ssim, key=ssim.get)
    assert "(higher is better)" in by_ssim.ranking
    with pytest.raises(ConfigError, match=r"unknown metric 'test_mes'.*Did you mean 'test_mse'"):
        compare_runs(runs, tmp_path / "bad", rank_by="test_mes")
    with pytest.raises(ConfigError, match="cannot rank runs by test_loss"):
        compare_runs(runs, tmp_path / "loss", rank_by="test_loss")
    with pytest.raises(ConfigError, match="cannot rank runs by best_val_loss"):
        compare_runs(runs, tmp_path / "val", rank_by="val_loss")
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_the_page_links_every_report_and_explains_each_column(study) -> None:
    result, _ = study
    out = result.out_dir
    page = read_page(out / "comparison.html")
    targets = [(out / link).resolve() for link in page.links]
    assert targets == [(out / name / "report.html").resolve() for name in ("vanilla", "vae")]
    assert all(t.exists() for t in targets)
    assert "Mean squared error" in page.titles["test MSE"]
    assert "lower is better" in page.titles["test MSE"]
    assert "higher is better" in page.titles["test SSIM"]
    # Two loss definitions: no loss-curve figure draws them together.
    assert "loss_curves" not in result.comparison.files


def handmade(path: Path, mse: float, ssim: float, logreg: float | None) -> Path:
    """A run directory written by hand (config.toml + metrics.json) with chosen scores."""
    path.mkdir(parents=True)
    (path / "config.toml").write_text(
        '[data]\ndataset = "fashion-mnist"\n[model]\nfamily = "dense"\nlatent_dim = 16\n',
        encoding="utf-8",
    )
    metrics = {
        "run": {"family": "dense", "parameters": 100},
        "reconstruction": {"loss": mse * 2, "bce": 0.3, "mse": mse, "psnr": 20.0, "ssim": ssim},
    }
    if logreg is not None:
        metrics["downstream"] = {"autoencoder": {"logreg_acc": logreg, "knn_acc": 0.5}}
    (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return path


def test_best_value_per_column_follows_the_catalog_direction(tmp_path: Path) -> None:
    """a: worse MSE and SSIM, better probe accuracy; b: the opposite. Lower is better for
    MSE (b marked), higher for SSIM (b marked) and for the probe's accuracy (a marked)."""
    a = handmade(tmp_path / "a", mse=0.02, ssim=0.5, logreg=0.8)
    b = handmade(tmp_path / "b", mse=0.01, ssim=0.7, logreg=0.6)
    result = compare_runs([a, b], tmp_path / "cmp")
    assert result.best == "b"
    keys = [c.key for c in result.columns]
    page = read_page(tmp_path / "cmp" / "comparison.html")
    marked = {(row, keys[col]) for row, col, _ in page.best}
    assert {
        (1, "test_mse"),
        (1, "test_ssim"),
        (0, "logreg_acc"),
        (0, "knn_acc"),
        (1, "knn_acc"),
    } <= marked
    assert (0, "test_mse") not in marked and (1, "logreg_acc") not in marked
    assert (0, "test_loss") not in marked and (1, "test_loss") not in marked  # never ranked
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| **0.8000** |" in md and "| **0.01000** |" in md
    # One loss definition: the test loss column is shown (not ranked).
    assert "test_loss" in keys


def test_probe_columns_when_a_run_has_a_downstream_section(three_runs, tmp_path: Path) -> None:
    """A real probe of one run (a copy of a tiny trained run): comparison.csv gets the
    probe's columns with its numbers; the run without a probe is blank, with a note."""
    from aelab.reuse.probe import probe_run

    probed = shutil.copytree(three_runs[0], tmp_path / "probed")
    plain = shutil.copytree(three_runs[1], tmp_path / "plain")
    scores = probe_run(probed, progress=False, cache=False)["autoencoder"]
    result = compare_runs([probed, plain], tmp_path / "cmp", n_images=2)
    rows = csv_rows(tmp_path / "cmp" / "comparison.csv")
    for key in ("logreg_acc", "knn_acc", "kmeans_nmi", "kmeans_ari"):
        assert float(rows[0][key]) == scores[key] and rows[1][key] == "", key
    assert not any(k.startswith(("pca_logreg", "pixels_")) for k in rows[0])  # baselines
    assert any(
        n.startswith("plain: metrics.json has no 'downstream' section") and "aelab probe" in n
        for n in result.notes
    )
    # No run clustered or ran anomaly detection: no blank columns for them.
    assert not any(k.startswith(("cluster_", "anomaly_")) for k in rows[0])


def test_varied_parameters_of_a_sweep_come_after_the_name(base_config, tmp_path: Path) -> None:
    from aelab.studies.sweep import parse_vary, run_sweep

    lines: list[str] = []
    varies = [parse_vary("train.lr=1e-3,3e-3")]
    result = run_sweep(base_config, varies, tmp_path / "sweep", quiet=True, log=lines.append)
    rows = csv_rows(tmp_path / "sweep" / "comparison.csv")
    assert list(rows[0])[:2] == ["name", "train.lr"]
    assert [float(r["train.lr"]) for r in rows] == [1e-3, 3e-3]
    mse = {r["name"]: float(r["test_mse"]) for r in rows}
    best = min(mse, key=mse.get)
    assert result.comparison.best == best
    summary = lines[-1].splitlines()  # the sweep ends with its table and the winner
    assert summary[0].split()[:2] == ["run", "train.lr"] and len(summary) == 2 + 2 + 1
    assert summary[-1].startswith(f"best by test MSE (lower is better): {best} ")
    # One loss definition: both runs' loss curves share one figure, and test loss is shown.
    assert "loss_curves" in result.comparison.files and "test_loss" in rows[0]
    # A wrong --rank-by fails before anything trains.
    with pytest.raises(ConfigError, match="unknown metric"):
        run_sweep(base_config, varies, tmp_path / "other", rank_by="mse_test", log=lines.append)
    assert not (tmp_path / "other").exists()
