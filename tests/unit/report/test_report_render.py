"""The report renders what exists, self-contained, and computes nothing."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pytest

from aelab.cli.main import main
from aelab.errors import CheckpointError
from aelab.metrics.catalog import SECTIONS, by_path, section_metrics
from aelab.report import render_report
from aelab.rundir import merge_metrics, read_metrics
from aelab.viz.code_map import code_map
from aelab.viz.save import save_figure
from report_html import read_page

CLUSTER = {
    "settings": {"n_clusters": 3, "n_init": 2, "seed": 0, "tol": 0.001, "max_iter": 20},
    "n_fit": 240,
    "n_test": 120,
    "dims": {"pixels": 144, "pca": 8, "code": 8, "idec": 8},
    "scores": {
        method: {"nmi": 0.5 + i / 10, "ari": 0.4 + i / 10, "acc": 0.6 + i / 10}
        for i, method in enumerate(("pixels", "pca", "code", "idec"))
    },
    "idec": {"iterations": 20, "converged": False, "changed_vs_code": 0.04,
             "history": [{"step": s, "changed": 0.1} for s in range(0, 21, 5)]},
    "seconds": {"kmeans_pixels": 0.1, "idec": 3.0},
}  # fmt: skip
DOWNSTREAM = {
    rep: {"logreg_acc": 0.81 - i / 10, "knn_acc": 0.83, "kmeans_nmi": 0.5, "kmeans_ari": 0.35}
    for i, rep in enumerate(("autoencoder", "pca", "pixels"))
}


def test_report_holds_config_metrics_pca_downstream_and_figures(run_dir):
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "<title>aelab report: tiny-run</title>" in html
    assert 'name = "tiny-run"' in unescape(html)  # the config, as TOML
    assert "13.9% lower</strong>" in html and "PCA-32" in html
    assert "0.2846" in html and "Binary cross-entropy per pixel" in html
    assert ">inf<" in html  # PCA's psnr is stored as null + psnr_infinite
    assert SECTIONS["downstream"].title in html and "0.8300" in html  # the catalog's .4f
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 2 and all(s.startswith("data:image/png;base64,") for s in images)
    # the known figure order: reconstructions before code_activity
    assert html.index("fig-reconstructions") < html.index("fig-code_activity")


def test_report_is_self_contained(run_dir):
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "http://" not in html and "https://" not in html


def test_report_renders_partial_runs_and_unknown_sections(run_dir):
    (run_dir / "metrics.json").write_text(
        '{"run": {"name": "half"}, "extra": {"k": [1, 2], "auc": 0.91234, "deep": {"x": 3}}}'
    )
    for png in (run_dir / "figures").iterdir():
        png.unlink()
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "<title>aelab report: half</title>" in html
    assert "<img" not in html and "PCA-" not in html
    page = read_page(html)
    assert page.json_in_text() == [] and "[1, 2]" not in page.text
    (table,) = page.section_tables("extra")  # a plugin's section: a table of its values
    assert table.headers == ["key", "value"]
    assert table.rows == [["k", "2 values"], ["auc", "0.9123"], ["deep.x", "3"]]
    assert "not in aelab's metric catalog" in page.text


def test_every_section_is_tables_from_the_catalog_with_its_figures(run_dir):
    """Nested sections are 2-D tables headed by the catalog's labels, settings a list, lists
    their length; a task's figures (RUN/<section>/*.png) sit in its section; no JSON."""
    merge_metrics(run_dir, "downstream", DOWNSTREAM)
    merge_metrics(run_dir, "cluster", CLUSTER)
    points = np.random.default_rng(0).normal(size=(30, 2))
    save_figure(code_map(points, np.arange(30) % 3, title="t"), run_dir / "cluster/clusters.png")
    page = read_page(render_report(run_dir).read_text(encoding="utf-8"))
    assert page.json_in_text() == []
    for section in ("reconstruction", "code", "pca", "downstream", "cluster", "run"):
        assert page.section_tables(section), section
        assert SECTIONS[section].title in page.text
    # downstream: representation x probe, headed by the catalog's labels
    matrix = page.section_tables("downstream")[0]
    probes = ("logreg_acc", "knn_acc", "kmeans_nmi", "kmeans_ari")
    assert matrix.headers == ["", *(by_path(f"downstream.autoencoder.{p}").label for p in probes)]
    assert [row[0] for row in matrix.rows] == ["autoencoder", "pca", "pixels"]
    assert matrix.rows[1][1] == "0.7100"
    # cluster: method x NMI / ARI / acc ("NMI (pixels)" less the method)
    scores = page.section_tables("cluster")[0]
    assert scores.headers == ["", "NMI", "ARI", "acc"]
    assert scores.rows[3] == ["idec", "0.8000", "0.7000", "0.9000"]
    values = {row[0]: row[1] for row in page.section_tables("cluster")[1].rows}
    assert values["IDEC trace cluster_idec_history"] == "5 values"
    assert values["dims cluster_dims"] == "pixels 144 · pca 8 · code 8 · idec 8"
    assert "n_init 2" in page.text  # settings: a compact list, not a table row
    assert not any("n_init" in row[0] for t in page.tables for row in t.rows)
    # reconstruction: every number the run holds, by its catalog label (a metric the run
    # lacks, such as one added to the catalog later, is simply not shown)
    labels = [row[0] for row in page.section_tables("reconstruction")[0].rows]
    held = read_metrics(run_dir)["reconstruction"]
    for metric in section_metrics("reconstruction"):
        field = metric.path.split(".", 1)[1]
        assert (f"{metric.label} {metric.key}" in labels) == (field in held), metric.key
    (figure,) = [i for i in page.images if i.section == "section-cluster"]
    assert figure.figure == "fig-cluster-clusters" and figure.src.startswith("data:image/png")


def test_report_reads_nothing_it_does_not_show(run_dir):
    before = read_metrics(run_dir)
    render_report(run_dir)
    assert read_metrics(run_dir) == before


def test_higher_than_pca(run_dir):
    merge_metrics(run_dir, "pca", {**read_metrics(run_dir)["pca"], "mse_ratio": 1.25})
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "25.0% higher</strong>" in html


def test_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="holds no run"):
        render_report(tmp_path)


def test_cli_report_rebuilds(run_dir, capsys):
    (run_dir / "report.html").unlink(missing_ok=True)
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").exists()
    assert capsys.readouterr().out.strip().endswith("report.html")
    assert main(["report", str(run_dir / "missing")]) == 2


def test_anomaly_section_is_a_score_table_with_settings(run_dir):
    scores = ("reconstruction", "code", "combined", "pca", "ocsvm", "iforest")
    section = {s: {"auroc": 0.9, "auprc": 0.8} for s in scores}
    section |= {"threshold": {"fpr": 0.05, "precision": 0.9, "recall": 0.7, "f1": 0.79}}
    section |= {"n_train": 100, "n_test_normal": 20, "info": {"normal_class": 3, "seed": 0}}
    merge_metrics(run_dir, "anomaly", section)
    page = read_page(render_report(run_dir).read_text(encoding="utf-8"))
    matrix, values = page.section_tables("anomaly")
    assert matrix.headers == ["", "AUROC", "AUPRC"]
    assert [row[0] for row in matrix.rows] == list(scores)
    assert [row[1] for row in values.rows[:2]] == ["0.0500", "0.9000"]  # threshold: FPR, precision
    assert "normal_class 3" in page.text and page.json_in_text() == []
