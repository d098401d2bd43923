"""benchmarks/downstream_bench.py's report: one-class sections from several invocations merge
into one report (each keeps the command that produced it) and the summary compares every
model's best score with the pixel baselines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "downstream_bench", ROOT / "benchmarks" / "downstream_bench.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry(dataset: str, preset: str, overrides: list[str], recon: float, **extra) -> dict:
    mean = {"reconstruction_auroc": recon, "code_auroc": 0.5, "combined_auroc": recon - 0.01}
    mean |= {"pca_auroc": 0.95, "ocsvm_auroc": 0.92, "iforest_auroc": 0.85}
    return {
        "dataset": dataset,
        "preset": preset,
        "overrides": overrides,
        "epochs": 20,
        "k": 5,
        "mean": mean,
        "classes": [],
        "table": "| table |",
        **extra,
    }


def test_sections_not_rerun_are_kept_with_their_command(bench, tmp_path: Path) -> None:
    previous = tmp_path / "downstream_bench.json"
    old = {
        "command": "python old",
        "finished_at": "2026-11-29 21:52:37",
        "probes": {"rows": []},
        "anomaly": [
            entry("fashion-mnist", "r3-fashion-conv", ["model.loss=mse"], 0.90),
            entry("mnist", "r4-vae", ["data.dataset=mnist"], 0.90),
        ],
    }
    previous.write_text(json.dumps(old))
    redo = entry("mnist", "r4-vae", ["data.dataset=mnist"], 0.96, command="python new")
    report = {"command": "python new", "anomaly": [redo]}
    bench.carry_over(report, previous)

    assert report["carried_over"]["probes"] == {
        "command": "python old",
        "finished_at": "2026-11-29 21:52:37",
    }
    kept, new = report["anomaly"]
    assert (kept["preset"], kept["command"], kept["finished_at"]) == (
        "r3-fashion-conv",
        "python old",
        "2026-11-29 21:52:37",
    )
    assert new is redo  # the same experiment is replaced, not duplicated

    # Carried again, an entry keeps the command that computed it.
    previous.write_text(json.dumps({**report, "finished_at": "later"}))
    again = {"command": "python third", "anomaly": []}
    bench.carry_over(again, previous)
    assert [a["command"] for a in again["anomaly"]] == ["python old", "python new"]
    assert again["anomaly"][0]["finished_at"] == "2026-11-29 21:52:37"


def test_summary_compares_each_models_best_score_with_the_baselines(bench) -> None:
    lines = bench.anomaly_summary(
        [
            entry("mnist", "r4-vae", ["model.encoder=conv"], 0.9622),
            entry("mnist", "r3-mnist-conv", [], 0.9401),
        ]
    )
    rows = [ln for ln in lines if ln.startswith("| mnist")]
    assert rows == [
        "| mnist | r3-mnist-conv | 20 | reconstruction | 0.9401 | 0.9500 | 0.9200 | 0.8500 | no |",
        "| mnist | r4-vae + model.encoder=conv | 20 | reconstruction | 0.9622 | 0.9500 "
        "| 0.9200 | 0.8500 | yes |",
    ]
    text = bench.markdown(
        {
            "command": "python new",
            "settings": {"epochs": 0, "limit": 0, "device": "cpu"},
            "environment": {"machine": "m", "torch_version": "t", "git_commit": "g"},
            "finished_at": "now",
            "anomaly": [
                entry("mnist", "r3-mnist-conv", [], 0.9401, command="python old"),
                entry("mnist", "r4-vae", [], 0.9622, command="python new"),
            ],
        }
    )
    assert text.count("Carried over from `python old`") == 1
    assert "## One-class summary" in text and "beats 3 of 3" in text and "beats 2 of 3" in text
