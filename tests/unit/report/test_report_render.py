"""The report renders what exists, self-contained, and computes nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest

from aelab.cli.main import main
from aelab.errors import CheckpointError
from aelab.report import render_report
from aelab.rundir import merge_metrics, read_metrics


def test_report_holds_config_metrics_pca_downstream_and_figures(run_dir):
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "<title>aelab report: tiny-run</title>" in html
    assert 'name = "tiny-run"' in unescape(html)  # the config, as TOML
    assert "13.9% lower</strong>" in html and "PCA-32" in html
    assert "0.2846" in html and "Binary cross-entropy per pixel" in html
    assert ">inf<" in html  # PCA's psnr is stored as null + psnr_infinite
    assert "Downstream probes" in html and "0.83" in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 2 and all(s.startswith("data:image/png;base64,") for s in images)
    # the known figure order: reconstructions before code_activity
    assert html.index("fig-reconstructions") < html.index("fig-code_activity")


def test_report_is_self_contained(run_dir):
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "http://" not in html and "https://" not in html


def test_report_renders_partial_runs_and_unknown_sections(run_dir):
    (run_dir / "metrics.json").write_text('{"run": {"name": "half"}, "extra": {"k": [1, 2]}}')
    for png in (run_dir / "figures").iterdir():
        png.unlink()
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "<title>aelab report: half</title>" in html
    assert "<img" not in html and "PCA-" not in html
    assert "extra" in html and "[1, 2]" in html


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
