"""benchmarks/calibration_bench.py's table (realised FPR per class against the 5% target,
within 2 points or not) and its place on the results page (section 7 collects it, so a
regenerated page keeps it)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import calibration_bench  # noqa: E402
from results_page import downstream  # noqa: E402


def payload(fprs: list[float]) -> dict:
    classes = [
        {
            "class": i,
            "name": f"c{i}",
            "n_test_normal": 1000,
            "threshold_fpr": fpr,
            "threshold_precision": 0.99,
            "threshold_recall": 0.5,
            "threshold_f1": 0.66,
            "combined_auroc": 0.9,
        }
        for i, fpr in enumerate(fprs)
    ]
    return {"target_fpr": 0.05, "classes": classes}


def report(rows: list[dict]) -> dict:
    within = sum(r["within"] for r in rows)
    return {
        "machine": {"cpu_count": 2},
        "commands": ["aelab anomaly ..."],
        "rows": rows,
        "within": within,
        "mean_fpr": sum(r["fpr"] for r in rows) / len(rows),
        "verdict": "met" if within >= calibration_bench.REQUIRED else "not met",
    }


def test_classes_within_two_points_of_the_target_are_counted_and_misses_named() -> None:
    rows = calibration_bench.rows_of("mnist", payload([0.05, 0.07, 0.0701, 0.031, 0.029]))
    assert [r["within"] for r in rows] == [True, True, False, True, False]
    text = calibration_bench.markdown(report(rows))
    assert "**3 of 5** classes" in text
    assert "Missed: mnist 2 (c2) at 7.01%; mnist 4 (c4) at 2.90%." in text
    assert "| mnist | 1 | c1 | 1,000 | 5% | 7.00% | yes |" in text


def test_results_page_section_7_collects_the_table(tmp_path: Path) -> None:
    results, docs = tmp_path / "results", tmp_path / "docs"
    results.mkdir()
    rows = calibration_bench.rows_of("fashion-mnist", payload([0.05, 0.08]))
    (results / "anomaly_calibration.md").write_text(calibration_bench.markdown(report(rows)))
    lines, _ = downstream.run(SimpleNamespace(results=results, docs=docs), {})
    text = "\n".join(lines)
    assert "### One-class detectors: calibrated thresholds (target FPR 5%)" in text
    assert "| fashion-mnist | 1 | c1 | 1,000 | 5% | 8.00% | **no** |" in text
    assert "\n# " not in text  # the file's own title is dropped under the page's heading
