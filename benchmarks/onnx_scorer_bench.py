"""The exported ONNX scorer against PyTorch on real test images: the same scores and
decisions?

    .venv/bin/python benchmarks/onnx_scorer_bench.py RUN     # RUN has detector.json

Exports RUN's scorer as a user does (``aelab export RUN --part scorer --format onnx``),
runs it with onnxruntime (CPU) on every test image of the run's dataset (floats in [0, 1],
batches of ``--batch``), and compares with ``Detector.score`` in PyTorch on the same images
(the same checkpoint, "best", as the export) and, when present, with the scores
``aelab anomaly`` wrote to ``RUN/anomaly/scores.csv``: max |score diff| and decision
agreement (exact). The issue's bar: scores within 1e-5, decisions identical.

Writes ``benchmarks/results/onnx_scorer_bench.{md,json}`` (or ``--out-dir``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from aelab.data import load_dataset
from aelab.reuse.detector import Detector
from aelab.reuse.inference import load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOLERANCE = 1e-5


def export_scorer(run: Path, out: Path) -> float:
    """Seconds ``aelab export RUN --part scorer --format onnx --out OUT`` took."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "aelab", "export", str(run), "--part", "scorer"]
    argv += ["--format", "onnx", "--out", str(out), "--quiet"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    return time.perf_counter() - start


def onnx_scores(path: Path, images: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(scores (N,) float64, decisions (N,) bool, seconds) of the ONNX scorer."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    scores, flags = [], []
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        s, a = session.run(None, {name: images[i : i + batch]})
        scores.append(s)
        flags.append(a)
    return np.concatenate(scores), np.concatenate(flags).astype(bool), time.perf_counter() - start


def anomaly_csv(run: Path) -> np.ndarray | None:
    """The detector's score of each test image as ``aelab anomaly`` wrote it, if it did."""
    path = run / "anomaly" / "scores.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return np.asarray([float(r["combined"]) for r in rows])


def compare(a: np.ndarray, b: np.ndarray, threshold: float) -> dict:
    return {
        "max_abs_score_diff": float(np.max(np.abs(a - b))),
        "decisions_differing": int(((a > threshold) != (b > threshold)).sum()),
    }


def markdown(r: dict) -> str:
    rows = [
        "| compared | images | max abs score diff | decisions differing | within 1e-5 and identical |",
        "|:---|---:|---:|---:|:---:|",
    ]
    for name, c in r["comparisons"].items():
        ok = c["max_abs_score_diff"] <= TOLERANCE and c["decisions_differing"] == 0
        rows.append(
            f"| {name} | {r['images']:,} | {c['max_abs_score_diff']:.3e} "
            f"| {c['decisions_differing']} | {'yes' if ok else 'no'} |"
        )
    m = r["machine"]
    return "\n".join(
        [
            "# The ONNX scorer against PyTorch on real test images",
            "",
            f"Command: `{r['command']}`  ",
            f"Machine: {m['platform']}, {m['cpu_count']} CPUs, onnxruntime {m['onnxruntime']} "
            "(CPUExecutionProvider); shared with other work while this ran (timings noisy).",
            "",
            f"Run: `{r['run']}` ({r['dataset']}, normal class {r['normal_class']}); detector "
            f"score `{r['score']}`, threshold {r['threshold']:.6f} (ONNX metadata "
            f"`aelab.threshold` = {r['metadata_threshold']}; equal: {r['metadata_matches']}). "
            f"Exported with `aelab export RUN --part scorer --format onnx` in "
            f"{r['export_seconds']:.1f} s; {r['onnx_kb']:.0f} kB. onnxruntime scored the "
            f"{r['images']:,} test images in {r['onnx_seconds']:.2f} s (batches of "
            f"{r['batch']}), PyTorch (`Detector.score`) in {r['torch_seconds']:.2f} s. "
            f"Anomalies flagged by the ONNX decision output: {r['onnx_flagged']:,}; the "
            f"decision output equals score > threshold on every image: {r['onnx_decision_consistent']}.",
            "",
            *rows,
            "",
            f"Target (onnxruntime and PyTorch agree to {TOLERANCE:g} on scores and exactly on "
            f"decisions over the test images): **{r['verdict']}**.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run directory with detector.json")
    parser.add_argument("--batch", type=int, default=1000, help="images per onnxruntime call")
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    run = Path(args.run)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scorer.onnx"
        export_seconds = export_scorer(run, path)
        size_kb = path.stat().st_size / 1024
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        model, detector = load(run), Detector.load(run)
        test = load_dataset(model.config.data, seed=model.config.train.seed, progress=False).test
        images = test.images.astype(np.float32) / 255
        o_scores, o_flags, o_seconds = onnx_scores(path, images, args.batch)
    start = time.perf_counter()
    t_scores = detector.score(model, images)
    t_seconds = time.perf_counter() - start

    comparisons = {
        "onnxruntime vs PyTorch (Detector.score)": compare(o_scores, t_scores, detector.threshold)
    }
    comparisons["onnxruntime vs PyTorch (Detector.score)"]["decisions_differing"] = int(
        (o_flags != detector.decide(t_scores)).sum()
    )
    written = anomaly_csv(run)
    if written is not None and len(written) == len(images):
        comparisons["onnxruntime vs `aelab anomaly` (RUN/anomaly/scores.csv)"] = compare(
            o_scores, written, detector.threshold
        )
        comparisons["PyTorch vs `aelab anomaly` (RUN/anomaly/scores.csv)"] = compare(
            t_scores, written, detector.threshold
        )
    main_cmp = comparisons["onnxruntime vs PyTorch (Detector.score)"]
    met = main_cmp["max_abs_score_diff"] <= TOLERANCE and main_cmp["decisions_differing"] == 0
    report = {
        "command": "python benchmarks/onnx_scorer_bench.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "onnxruntime": ort.__version__,
            "load_average": [round(v, 2) for v in os.getloadavg()],
        },
        "run": str(run),
        "dataset": model.config.data.dataset,
        "normal_class": detector.calibration.get("normal_class"),
        "score": detector.score_name,
        "threshold": detector.threshold,
        "metadata_threshold": meta.get("aelab.threshold"),
        "metadata_matches": float(meta.get("aelab.threshold", "nan")) == detector.threshold,
        "export_seconds": export_seconds,
        "onnx_kb": size_kb,
        "images": len(images),
        "batch": args.batch,
        "onnx_seconds": o_seconds,
        "torch_seconds": t_seconds,
        "onnx_flagged": int(o_flags.sum()),
        "onnx_decision_consistent": bool((o_flags == (o_scores > detector.threshold)).all()),
        "comparisons": comparisons,
        "verdict": "met" if met else "not met",
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "onnx_scorer_bench.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    (out / "onnx_scorer_bench.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
