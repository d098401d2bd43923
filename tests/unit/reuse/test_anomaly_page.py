"""The anomaly page and the per-class "anomaly" section: what ``run_protocol`` keeps and
writes (per-image scores, extremes, the catalog-shaped section, the class runs through the
task registry) and how anomaly.html lays out a known anomaly.json."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from aelab.metrics import catalog
from aelab.metrics.anomaly import auroc
from aelab.report.anomaly_page import render_anomaly_page
from aelab.reuse.anomaly import ALL_SCORES, RANKED_BY, run_protocol
from aelab.reuse.task import TASKS, create_task, run_task
from htmlparts import PageParts, page_parts

from .conftest import tiny_config


def parse(path) -> PageParts:
    return page_parts(path)


def section(auroc: dict[str, float], auprc: dict[str, float]) -> dict:
    return {
        **{s: {"auroc": auroc[s], "auprc": auprc[s]} for s in ALL_SCORES},
        "n_train": 59,
        "n_test_normal": 30,
        "n_test_anomalous": 90,
        "info": {"normal_class": 0, "code_score": "knn", "k": 5},
    }


def test_page_marks_each_rows_best_by_the_catalog(tmp_path):
    """A hand-written anomaly.json: the best AUROC of the row is pca's, the best AUPRC is
    combined's; the mean row has its own; labels and formats are the catalog's."""
    auroc = dict.fromkeys(ALL_SCORES, 0.5) | {"pca": 0.91, "combined": 0.9}
    auprc = dict.fromkeys(ALL_SCORES, 0.5) | {"combined": 0.8}
    mean = {s: {"auroc": 0.6, "auprc": 0.6} for s in ALL_SCORES} | {
        "code": {"auroc": 0.7, "auprc": 0.65}
    }
    payload = {
        "title": "one-class anomaly detection · tiny",
        "sections": [{"class": 0, "name": "zero", "run": None, "anomaly": section(auroc, auprc)}],
        "mean_section": mean,
    }
    (tmp_path / "anomaly.json").write_text(json.dumps(payload))
    page = parse(render_anomaly_page(tmp_path))
    header = [text for text, _ in page.tables["table-auroc"][0]]
    assert header[2:8] == [catalog.get(f"anomaly_{s}_auroc").label for s in ALL_SCORES]
    assert header[8:] == ["n_train", "n_test_normal", "n_test_anomalous"]
    row, mean_row = page.tables["table-auroc"][1], page.tables["table-auroc"][2]
    best = [header[i] for i, (_, cls) in enumerate(row) if "best" in cls]
    assert best == ["AUROC (pca)"] and row[2][0] == "0.5000"  # the catalog's .4f
    assert "baseline" in row[5][1] and "baseline" not in row[4][1]
    assert [header[i] for i, (_, c) in enumerate(mean_row) if "best" in c] == ["AUROC (code)"]
    auprc_rows = page.tables["table-auprc"]
    assert [auprc_rows[0][i][0] for i, (_, c) in enumerate(auprc_rows[1]) if "best" in c] == [
        "AUPRC (combined)"
    ]
    assert page.images == 0 and page.links == []  # no figure, no run: nothing to show


@pytest.fixture(scope="module")
def protocol(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("anomaly")
    config = tiny_config(epochs=8, batch_size=16)
    results, payload = run_protocol(
        config, tiny_data, [1, 2], out_dir=out, save_runs=True, quiet=True
    )
    return out, results, payload


def test_protocol_keeps_per_image_scores_and_shows_the_extremes(protocol, tiny_data):
    out, results, _ = protocol
    for r in results:
        combined = r.scores[RANKED_BY]
        assert combined.shape == (len(tiny_data.test),)
        most, least = r.extremes(k=4)
        assert list(combined[most]) == sorted(combined, reverse=True)[:4]
        assert list(combined[least]) == sorted(combined)[:4]
        # the AUROC the table shows is the one of these very scores
        assert auroc(combined, tiny_data.test.labels != r.normal_class) == pytest.approx(
            r.metrics[RANKED_BY]["auroc"]
        )
    page = parse(out / "anomaly.html")
    assert page.images == 3  # roc.png, extremes.png and maps.png, embedded
    for r in results:  # the maps: the most then least anomalous images, their own maps
        n = len(r.maps["index"]) // 2
        combined = r.scores[RANKED_BY]
        assert list(r.maps["index"][:n]) == list(np.argsort(combined)[::-1][:n])
        assert r.maps["maps"].shape == (2 * n, *tiny_data.test.images.shape[2:])
        assert (r.maps["maps"] >= 0).all()
    # each class links to its run's report, in every per-class table
    per_class = [t for t in page.tables if t.startswith("table-")]
    assert {"table-auroc", "table-auprc"} <= set(per_class)
    assert page.links == ["class-1/report.html", "class-2/report.html"] * len(per_class)
    rows = page.tables["table-auroc"]
    assert [cells[0][0] for cells in rows[1:]] == ["1", "2", "mean"]
    mean = float(rows[-1][4][0])  # AUROC (combined)
    assert mean == pytest.approx(
        np.mean([r.metrics["combined"]["auroc"] for r in results]), abs=1e-4
    )


def test_each_class_run_holds_its_catalog_section_and_report(protocol, tiny_data):
    out, results, _ = protocol
    for r in results:
        run = out / f"class-{r.normal_class}"
        metrics = json.loads((run / "metrics.json").read_text())
        written = metrics["anomaly"]
        assert catalog.undocumented({"anomaly": written}) == []
        assert catalog.lookup(metrics, "anomaly_combined_auroc") == pytest.approx(
            r.metrics["combined"]["auroc"]
        )
        assert written["info"]["normal_class"] == r.normal_class
        assert written["n_test_normal"] + written["n_test_anomalous"] == len(tiny_data.test)
        with open(run / "anomaly" / "scores.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == len(tiny_data.test)
        assert float(rows[7]["combined"]) == pytest.approx(float(r.scores["combined"][7]))
        assert (run / "anomaly" / "roc.png").exists() and (
            run / "anomaly" / "extremes.png"
        ).exists()
        assert "anomaly" in (run / "report.html").read_text().lower()


def test_the_anomaly_task_is_registered_and_reproduces_the_section(protocol, tiny_data):
    """run_task("anomaly") on a class run scores what the protocol scored (same weights)."""
    out, results, _ = protocol
    assert "anomaly" in TASKS
    r = results[0]
    task = create_task("anomaly", normal_class=str(r.normal_class))
    again = run_task(
        task,
        out / "class-1",
        data=tiny_data,
        checkpoint="last",
        device="cpu",
        write=False,
        progress=False,
    )
    assert again.section["combined"] == pytest.approx(r.metrics["combined"])
    assert again.section["reconstruction"] == pytest.approx(r.metrics["reconstruction"])
    assert set(again.figures) == {"roc", "extremes", "maps"}
