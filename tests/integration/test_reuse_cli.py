"""``aelab embed | probe | cluster | anomaly | export`` end to end on a tiny npz dataset with planted
structure (4 classes, 12x12 images)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from aelab.cli.main import main
from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.models.dense import DenseConfig
from fakedata import tiny_splits
from report_html import read_page

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file for the tiny dataset and a run trained from it with `aelab train`."""
    root = tmp_path_factory.mktemp("reuse-cli")
    data = tiny_splits(264, shape=(1, 12, 12), classes=4, n_test=120)
    np.savez(
        root / "tiny.npz",
        x_train=data.train.images,
        y_train=data.train.labels,
        x_test=data.test.images,
        y_test=data.test.labels,
    )
    RunConfig(
        name="tiny",
        data=DataConfig(dataset=f"npz:{root / 'tiny.npz'}", validation="split", val_size=24),
        model=DenseConfig(latent_dim=8, hidden=(32,)),
        train=TrainConfig(epochs=25, batch_size=32, lr=3e-3, device="cpu", threads=1),
    ).save(root / "tiny.toml")
    args = ["train", "--config", str(root / "tiny.toml"), "--out", str(root / "run")]
    assert main([*args, "--no-eval", "--quiet"]) == 0
    return root


def test_embed(workspace: Path, capsys) -> None:
    out = workspace / "codes.npz"
    assert main(["embed", str(workspace / "run"), "--split", "test", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "120 x 8" in printed.err and printed.out == ""  # a status line: stderr
    with np.load(out) as f:
        assert f["codes"].shape == (120, 8) and f["codes"].dtype == np.float32
        np.testing.assert_array_equal(f["labels"], np.load(workspace / "tiny.npz")["y_test"])


def test_probe_writes_downstream_and_prints_a_table(
    workspace: Path, capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run = str(workspace / "run")
    assert main(["probe", run, "--quiet", "--json", "--no-write", "--no-cache"]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""  # --quiet: the result only
    table = json.loads(printed.out)
    assert set(table) == {"autoencoder", "pca", "pixels"} and 0 <= table["pca"]["knn_acc"] <= 1
    assert not (tmp_path / "xdg").exists()  # --no-cache neither reads nor writes the cache
    assert main(["probe", run, "--quiet", "--no-write"]) == 0  # fills the cache
    capsys.readouterr()
    assert main(["probe", str(workspace / "run")]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "probe: pixels: scores from the baseline cache" in captured.err
    assert "autoencoder" in out and "pca" in out and "pixels" in out
    downstream = json.loads((workspace / "run" / "metrics.json").read_text())["downstream"]
    assert downstream["autoencoder"]["knn_acc"] > 0.7  # chance: 0.25
    page = read_page((workspace / "run" / "report.html").read_text())
    assert page.section_tables("downstream") and page.json_in_text() == []
    assert (workspace / "run" / "downstream" / "probe_scores.png").stat().st_size > 0


def test_export_onnx_and_torchscript(workspace: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx_path, ts_path = workspace / "encoder.onnx", workspace / "full.pt"
    run = str(workspace / "run")
    assert (
        main(["export", run, "--format", "onnx", "--part", "encoder", "--out", str(onnx_path)]) == 0
    )
    assert main(["export", run, "--format", "torchscript", "--out", str(ts_path), "--quiet"]) == 0
    import aelab

    images = np.load(workspace / "tiny.npz")["x_test"][:7]
    x = (images / 255.0).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    codes = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(codes, aelab.load(run).encode(images), atol=1e-5)
    assert ts_path.stat().st_size > 0


def test_anomaly_all_classes(workspace: Path, capsys) -> None:
    out = workspace / "anomaly"
    args = ["anomaly", "--config", str(workspace / "tiny.toml"), "--all-classes"]
    args += ["--epochs", "30", "--batch-size", "16", "--out", str(out), "--save-runs"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "**mean**" in printed
    payload = json.loads((out / "anomaly.json").read_text())
    assert [row["class"] for row in payload["classes"]] == [0, 1, 2, 3]
    assert payload["mean"]["reconstruction_auroc"] > 0.8  # chance: 0.5
    assert (out / "roc.png").exists() and (out / "anomaly.csv").exists()
    args = ["anomaly", "--config", str(workspace / "tiny.toml"), "--normal-class", "1"]
    args += ["--epochs", "2", "--out", str(workspace / "a1"), "--json", "--quiet"]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["class"] for row in payload["classes"]] == [1] and "mean" in payload
    assert (out / "class-2" / "config.toml").exists()


def test_cluster_writes_its_section_and_json(workspace: Path, capsys) -> None:
    run = workspace / "run"
    args = ["cluster", str(run), "--n-init", "2", "--max-iter", "20", "--update-interval", "5"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "IDEC: fine-tuned code" in captured.out and "IDEC step 20/20" in captured.err
    for name in ("cluster.json", "cluster.md", "codes_by_class.png", "clusters.png"):
        assert (run / "cluster" / name).stat().st_size > 0
    section = json.loads((run / "metrics.json").read_text())["cluster"]
    assert set(section["scores"]) == {"pixels", "pca", "code", "idec"}
    assert all(np.isfinite(v) for s in section["scores"].values() for v in s.values())
    assert section["idec"]["iterations"] == 20 or section["idec"]["converged"]
    assert main([*args, "--max-iter", "0", "--json", "--no-write"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["idec"]["iterations"] == 0
    assert printed["scores"]["idec"] == printed["scores"]["code"]  # no step: k-means' clusters
    assert main(["cluster", str(run), "--tol", "2"]) == 2
    assert "tol=2.0 is invalid" in capsys.readouterr().err


def test_user_mistakes_exit_2_with_one_line(workspace: Path, capsys) -> None:
    run = str(workspace / "run")
    assert main(["embed", run, "--out", str(workspace / "codes.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".npz" in err
    assert main(["probe", str(workspace / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    args = ["anomaly", "--config", str(workspace / "tiny.toml"), "--normal-class", "9"]
    assert main([*args, "--out", str(workspace / "a9")]) == 2
    assert "labels present" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["onnxscript", "onnx"])
def test_onnx_export_without_the_extra_is_one_line(
    workspace: Path, capsys, monkeypatch, missing: str
) -> None:
    """A plain `pip install aelab` lacks torch's ONNX exporter dependencies: the export
    says so in one line naming the extra, instead of a ModuleNotFoundError traceback."""
    monkeypatch.setitem(sys.modules, missing, None)  # import fails, find_spec says absent
    out = workspace / "no-extra.onnx"
    args = ["export", str(workspace / "run"), "--format", "onnx", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{missing} is not installed" in err and "pip install 'aelab[onnx]'" in err
    assert not out.exists()


def test_cluster_results_collects_what_cluster_wrote(workspace: Path, tmp_path: Path) -> None:
    """benchmarks/cluster_results.py: the table verbatim, the verdict computed from
    cluster.json, and the figures of the first --figures N runs."""
    import subprocess
    import sys

    run = workspace / "run"
    args = ["cluster", str(run), "--n-init", "2", "--max-iter", "10", "--update-interval", "5"]
    assert main([*args, "--quiet"]) == 0
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            *(sys.executable, str(root / "benchmarks" / "cluster_results.py"), str(run)),
            *("--out-dir", str(tmp_path), "--figures", "1"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (tmp_path / "cluster.md").read_text(encoding="utf-8")
    assert (run / "cluster" / "cluster.md").read_text(encoding="utf-8").strip() in page
    scores = json.loads((run / "cluster" / "cluster.json").read_text())["scores"]
    wins = all(
        scores["idec"][m] > scores[b][m] for b in ("pixels", "pca", "code") for m in ("nmi", "acc")
    )
    assert f"NMI and accuracy: **{'yes' if wins else 'no'}**" in page
    assert (tmp_path / "cluster" / "run-codes_by_cluster.png").stat().st_size > 0


def test_report_after_evaluate_probe_and_cluster(
    workspace: Path, tmp_path: Path, monkeypatch
) -> None:
    """Every number of metrics.json is in the catalog, and report.html shows each section as
    tables headed by the catalog's labels, with the probe and cluster figures: no JSON."""
    import shutil

    from aelab.metrics.catalog import by_path, undocumented

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run = Path(shutil.copytree(workspace / "run", tmp_path / "run"))
    assert main(["evaluate", str(run), "--quiet"]) == 0
    assert main(["probe", str(run), "--quiet"]) == 0
    args = ["cluster", str(run), "--n-init", "2", "--max-iter", "10", "--update-interval", "5"]
    assert main([*args, "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"run", "reconstruction", "code", "pca", "downstream", "cluster"} <= set(metrics)
    assert undocumented(metrics) == []

    page = read_page((run / "report.html").read_text(encoding="utf-8"))
    assert page.json_in_text() == []
    probes = [by_path(f"downstream.autoencoder.{p}").label for p in metrics["downstream"]["pca"]]
    (downstream,) = page.section_tables("downstream")
    assert downstream.headers == ["", *probes]
    assert [row[0] for row in downstream.rows] == ["autoencoder", "pca", "pixels"]
    scores = page.section_tables("cluster")[0]
    agreement = [
        by_path(f"cluster.scores.idec.{m}").label.removesuffix(" (idec)")
        for m in ("nmi", "ari", "acc")
    ]
    assert scores.headers == ["", *agreement]
    assert [row[0] for row in scores.rows] == ["pixels", "pca", "code", "idec"]
    figures = {i.figure for i in page.images}
    for stem in ("codes_by_cluster", "codes_by_class", "clusters"):
        assert f"fig-cluster-{stem}" in figures
    assert "fig-downstream-probe_scores" in figures and "fig-reconstructions" in figures
