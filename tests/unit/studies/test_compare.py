"""aelab.studies.compare: the table, its notes, the figures and the HTML page of many runs."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest

from aelab.errors import CheckpointError
from aelab.report.tables import format_value, markdown_table
from aelab.studies.compare import _dataset_mismatch, compare_runs, summarize_run


def handmade_run(path: Path, metrics: dict | None) -> Path:
    """A run directory written by hand: config.toml and (optionally) metrics.json only."""
    path.mkdir(parents=True)
    (path / "config.toml").write_text(
        'name = "hand"\n[data]\ndataset = "fashion-mnist"\n'
        '[model]\nfamily = "dense"\nlatent_dim = 16\n'
        '[model.sparsity]\nkind = "l1"\nweight = 1e-5\n[model.noise]\nkind = "gaussian"\nlevel = 0.3\n',
        encoding="utf-8",
    )
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return path


def test_summary_reads_sections_and_notes_missing_ones(tmp_path: Path) -> None:
    run = handmade_run(
        tmp_path / "a",
        {
            "run": {"family": "dense", "parameters": 1234, "wall_time_s": 2.5},
            "reconstruction": {"bce": 0.3, "mse": 0.02, "psnr": None, "psnr_infinite": True},
        },
    )
    row, notes = summarize_run(run)
    assert row["name"] == "a"
    assert row["parameters"] == 1234 and row["test_mse"] == 0.02
    assert row["test_psnr"] == math.inf  # a perfect reconstruction, stored as null + flag
    # Missing "run" fields fall back to the config: regulariser and code size.
    assert row["latent_dim"] == 16 and row["regularizer"] == "l1+noise:gaussian"
    assert row["l0"] is None and row["pca_ratio"] is None
    assert any("'code'" in n and "aelab evaluate" in n for n in notes)
    assert any("'pca'" in n for n in notes)
    assert not any("'run'" in n for n in notes)


def test_summary_of_a_run_without_metrics_is_blank_not_an_error(tmp_path: Path) -> None:
    row, notes = summarize_run(handmade_run(tmp_path / "b", None))
    assert row["test_bce"] is None and len(notes) == 4


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        summarize_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.toml"):
        summarize_run(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="at least one run"):
        compare_runs([], tmp_path / "out")


def test_formatting() -> None:
    assert format_value(None) == "" and format_value(math.inf) == "inf"
    assert format_value(0.123456, ".3f") == "0.123" and format_value(50992, ",") == "50,992"
    table = markdown_table(
        [{"a": 1.5, "b": None}, {"a": "x|y"}], [("a", "A", ".2f"), ("b", "B", "")]
    )
    lines = table.strip().splitlines()
    assert lines[0] == "| A | B |" and lines[2] == "| 1.50 |  |" and "x\\|y" in lines[3]


def test_dataset_mismatch_names_the_runs(base_config) -> None:
    import dataclasses

    a = base_config.override(["model.input_shape=[1,28,28]"])
    b = dataclasses.replace(
        a,
        data=dataclasses.replace(a.data, dataset="cifar10"),
        model=dataclasses.replace(a.model, input_shape=(3, 32, 32)),
    )
    assert _dataset_mismatch({"x": a, "y": a}) is None
    message = _dataset_mismatch({"x": a, "y": b})
    assert "x:" in message and "y: cifar10 3x32x32" in message and "1x28x28" in message


def test_compare_three_runs(three_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = compare_runs(three_runs, out, n_images=6, title="Three tiny runs")
    # One CSV row per run, in order, with numbers read from each run's metrics.json.
    with open(out / "comparison.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["dense-4", "sparse-8", "conv-8"]
    # The header: catalog keys, the config keys the runs differ in right after the name,
    # then the run folder.
    assert list(rows[0]) == [c.key for c in result.columns] + ["run_dir"]
    assert list(rows[0])[:3] == ["name", "model.sparsity.kind", "model.sparsity.weight"]
    assert [r["model.sparsity.kind"] for r in rows] == ["none", "l1", "none"]
    for row, run in zip(rows, three_runs, strict=True):
        metrics = json.loads((run / "metrics.json").read_text())
        assert float(row["test_mse"]) == metrics["reconstruction"]["mse"]
        assert float(row["pca_ratio"]) == metrics["pca"]["mse_ratio"]
        assert int(row["parameters"]) == metrics["run"]["parameters"]
    assert [r["family"] for r in rows] == ["dense", "dense", "conv"]
    assert [r["regularizer"] for r in rows] == ["none", "l1", "none"]
    assert [r["latent_dim"] for r in rows] == ["4", "8", "8"]
    # The Markdown table has a header, a rule and three rows; every figure is linked.
    md = (out / "comparison.md").read_text()
    assert md.count("\n| ") == 3 + 1 and "| dense-4 | " in md
    for stem in ("comparison_losses", "comparison_grid"):
        assert (out / f"{stem}.png").stat().st_size > 1000 and f"({stem}.png)" in md
    # Three loss definitions (dense BCE, dense BCE + L1, conv BCE): no test loss column.
    assert "test_loss" not in rows[0]
    assert len(result.notes) == 1 and "test loss" in result.notes[0]
    # The page is self-contained: both figures embedded, nothing fetched.
    html = (out / "comparison.html").read_text()
    assert html.count('src="data:image/png;base64,') == 2
    assert not re.search(r'(src|href)="https?:', html)
    assert ">sparse-8</a></td>" in html


def test_grid_has_one_row_per_run(three_runs: list[Path], tmp_path: Path) -> None:
    from aelab.studies.compare import reconstruction_grid

    fig, notes = reconstruction_grid({p.name: p for p in three_runs}, n_images=5)
    assert not notes
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["original", "dense-4", "sparse-8", "conv-8"]
    assert len(fig.axes) == 4  # one mosaic Axes per row (5 tiles each)


def test_compare_notes_a_run_without_checkpoints(three_runs: list[Path], tmp_path: Path) -> None:
    hand = handmade_run(tmp_path / "hand", {"reconstruction": {"bce": 0.5, "mse": 0.1}})
    result = compare_runs([three_runs[0], hand], tmp_path / "cmp2")
    assert [r["name"] for r in result.rows] == ["dense-4", "hand"]
    assert any(n.startswith("hand: left out of the reconstruction grid") for n in result.notes)
    md = (tmp_path / "cmp2" / "comparison.md").read_text()
    assert "Notes:" in md and "hand: metrics.json has no 'run' section" in md


def test_reuse_keeps_a_current_comparison_only(three_runs: list[Path], tmp_path: Path) -> None:
    from aelab.studies.compare import current_comparison

    out = tmp_path / "cmp3"
    assert current_comparison(three_runs[:2], out) is None
    compare_runs(three_runs[:2], out)
    stamp = (out / "comparison.html").stat().st_mtime_ns
    again = compare_runs(three_runs[:2], out, reuse=True)
    assert (out / "comparison.html").stat().st_mtime_ns == stamp
    assert set(again.files) >= {"csv", "md", "html", "losses", "grid"}
    # Another set of runs is not the same comparison.
    assert current_comparison(three_runs[:1], out) is None


def test_runs_on_different_test_sets_are_said_and_their_columns_marked(
    idx_dir: Path, base_config, tmp_path: Path
) -> None:
    """A run scored on 10 test images beside one scored on all of them: the comparison
    says so plainly (each run's test set), marks the test-set columns with †, and does
    not claim the dataset or image shape differ (the grid is still drawn)."""
    from aelab.data import load_dataset
    from aelab.studies.sweep import run_configs

    n_test = len(load_dataset(f"idx:{idx_dir}").test)
    code4 = base_config.override(["model.latent_dim=4"])
    configs = {"all": code4, "first-10": code4.override(["data.test_limit=10"])}
    outcome = run_configs(configs, tmp_path / "runs", quiet=True, log=lambda msg: None)
    out = tmp_path / "cmp"
    result = compare_runs([outcome.done[n] for n in configs], out, n_images=4)

    mixed = [n for n in result.notes if "different test sets" in n]
    assert len(mixed) == 1 and len(result.notes) == 1, result.notes
    # One loss definition: the test loss is shown, and both runs' loss curves share a figure.
    assert "comparison_loss_curves" in (out / "comparison.md").read_text()
    assert f"all: idx:{idx_dir}, {n_test} test images;" in mixed[0]
    assert f"first-10: idx:{idx_dir}, 10 test images (data.test_limit=10)" in mixed[0]
    md = (out / "comparison.md").read_text()
    header = md.splitlines()[2]
    for marked in ("test loss †", "test MSE †", "test SSIM †", "L0 †", "MSE / PCA †"):
        assert f"| {marked} |" in header or header.endswith(f"| {marked} |"), marked
    assert "params †" not in header and "run †" not in header
    assert "different test sets" in md and "test MSE †" in (out / "comparison.html").read_text()
    assert (out / "comparison_grid.png").exists()
