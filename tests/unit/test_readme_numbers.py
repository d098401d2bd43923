"""Numbers quoted in README.md come from a results file: each quoted figure is compared with
the file that holds it (R1 against Keras: docs/results.md and docs/reference-systems.md; the
probe table: benchmarks/results/readme_probe.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER = r"(\d+\.\d+)"


def _one(pattern: str, text: str, where: str) -> tuple[str, ...]:
    found = re.findall(pattern, text)
    assert len(found) == 1, f"expected one match of {pattern!r} in {where}, found {len(found)}"
    return found[0] if isinstance(found[0], tuple) else (found[0],)


def _r1_table() -> dict[str, tuple[str, str]]:
    """docs/results.md's "R1 beside the Keras reference" table: metric -> (aelab, Keras)."""
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    section = text[text.index("**R1 beside the Keras reference**") :]
    rows = re.findall(rf"^\| (test \w+) \| {NUMBER} \| {NUMBER} \|", section, re.M)
    return {metric: (ours, keras) for metric, ours, keras in rows[:2]}


def test_r1_against_keras_matches_the_results_page() -> None:
    keras_bce, keras_mse, bce, mse = _one(
        rf"R1's Keras model reaches test BCE {NUMBER} and MSE {NUMBER} after 50 epochs; "
        rf"aelab's preset\s+reaches {NUMBER} and {NUMBER}",
        README,
        "README.md",
    )
    table = _r1_table()
    assert table["test BCE"] == (bce, keras_bce)
    assert table["test MSE"] == (mse, keras_mse)
    demo = README[README.index("What `make demo` prints") : README.index("R1's Keras model")]
    demo_bce, demo_mse = _one(
        rf"evaluate: test loss {NUMBER}, BCE {NUMBER}, MSE {NUMBER}", demo, "make demo's output"
    )[1:]
    assert (demo_bce, demo_mse) == (bce, mse)  # make demo's quoted output: the same run
    reference = (ROOT / "docs" / "reference-systems.md").read_text(encoding="utf-8")
    assert (keras_bce, keras_mse) == _one(
        rf"test BCE {NUMBER} and MSE {NUMBER}", reference, "docs/reference-systems.md"
    )


def _table_rows(text: str) -> dict[str, list[str]]:
    """The probe table (``representation  logreg_acc ...``) in ``text``: name -> cells."""
    start = text.index("representation    logreg_acc")
    block = text[start : text.index("```", start)]
    rows = [line.split() for line in block.splitlines()[2:] if line.strip()]
    return {row[0]: row[1:] for row in rows}


def test_probe_table_matches_its_results_file() -> None:
    results = (ROOT / "benchmarks" / "results" / "readme_probe.md").read_text(encoding="utf-8")
    quoted, measured = _table_rows(README), _table_rows(results)
    assert set(quoted) == {"autoencoder", "pca", "pixels"}
    assert quoted == measured
    # the command the README says produced it is the one the results file records
    command = _one(r"(aelab probe runs/r1-fashion-sparse --train-limit \d+)", README, "README.md")[
        0
    ]
    assert command in results


def _results(name: str) -> dict:
    import json

    return json.loads((ROOT / "benchmarks" / "results" / name).read_text(encoding="utf-8"))


def _bullet(script: str) -> str:
    """The README's Benchmarks bullet of ``script`` (up to the next bullet)."""
    start = README.index(f"- `{script}`")
    end = README.find("\n- `", start + 1)
    return README[start : end if end > 0 else None]


def test_evaluation_figures_match_eval_bench_results() -> None:
    result, text = _results("eval_bench.json"), _bullet("eval_bench.py")
    now, before = result["medians"]["now"], result["medians"]["before"]
    phase, phase_before, tm, bokeh, work, work_before = _one(
        rf"phase \*\*{NUMBER} s\*\* \({NUMBER} s for the source before this round\), of which "
        rf"importing\s+torchmetrics \(it imports `scipy.signal`, {NUMBER} s\) and bokeh "
        rf"\({NUMBER} s\) is a first-use cost;\s+the evaluation's own work, imports done, "
        rf"{NUMBER} s \({NUMBER} s before\)",
        text,
        "the eval_bench bullet",
    )
    imports = list(result["imports"].values())
    assert (phase, phase_before) == (f"{now['phase']:.2f}", f"{before['phase']:.2f}")
    assert (tm, bokeh) == (f"{imports[0]:.2f}", f"{imports[1]:.2f}")
    assert (work, work_before) == tuple(f"{result['in_process'][k]:.2f}" for k in ("now", "before"))


def test_presets_show_figures_match_cli_bench_results() -> None:
    seconds = _results("cli_bench.json")["startup"]["seconds"]
    after, before = _one(
        rf"`aelab presets show r1-fashion-sparse` \*\*{NUMBER} s\*\* \({NUMBER} s before",
        _bullet("cli_bench.py"),
        "the cli_bench bullet",
    )
    key = "presets show r1-fashion-sparse"
    assert after == f"{seconds['after'][key]['median']:.2f}"
    assert before == f"{seconds['before'][key]['median']:.2f}"


def test_training_figures_match_train_bench_results() -> None:
    result, text = _results("train_bench.json"), _bullet("train_bench.py")
    aelab_s, plain_s, loader_s, ratio, cpu_ratio = _one(
        rf"aelab {NUMBER} s, the plain loop {NUMBER} s, the DataLoader loop\s+{NUMBER} s: "
        rf"\*\*{NUMBER}x\*\* the plain loop's wall time \(CPU time {NUMBER}x\)",
        text,
        "the train_bench bullet",
    )
    runs = result["runs"]
    assert (aelab_s, plain_s, loader_s) == tuple(
        f"{runs[k]['wall_s']:.2f}" for k in ("aelab", "plain", "reference")
    )
    assert (ratio, cpu_ratio) == (
        f"{result['aelab_over_plain_time']:.2f}",
        f"{result['aelab_over_plain_cpu_time']:.2f}",
    )
    rows = {row["variant"]: row for row in result["plain_ablation"]["rows"]}
    loss = rows["sigmoid + nn.BCELoss"]
    plain = rows["plain (the fastest honest loop)"]
    gap = round((loss["s_per_epoch_median"] - plain["s_per_epoch_median"]) * 1000)
    assert f"+{gap} ms" in text
