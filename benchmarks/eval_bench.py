"""Evaluation time of a small run: R1 on real Fashion-MNIST, a 1,000-image test set.

The run: ``aelab train --preset r1-fashion-sparse --epochs 2`` on 5,000 training images
(``data.train_limit``) with a 1,000-image test set (``data.test_limit``), as in issue 25's
"2 s training, 10.9 s evaluation". Then ``aelab evaluate RUN`` (every figure, the
interactive code map, the report), each in a fresh process (what a user waits for), the PCA
baseline cache warm (its first fit is timed once, apart). Reported per round:

- ``phase``: the evaluation as the command reports it ("N figures in X s": from loading
  the checkpoint to the report written), imports done inside it included (torchmetrics,
  bokeh, scikit-learn where used);
- ``wall``: the whole process (Python, torch and the CLI's imports too);
- ``in-process``: ``evaluate_run`` called a second time in one process (every import
  done): the evaluation's own work.

With ``--baseline-src`` (an older checkout's ``src``), the same command on that tree in the
same rounds, interleaved: the before/after of one run. Import costs are measured apart
(fresh processes, torch already imported): what a first evaluation pays for its libraries.

    python benchmarks/eval_bench.py --baseline-src /tmp/base/src    # 5 interleaved rounds
    python benchmarks/eval_bench.py --rounds 1                      # a quick check

Writes benchmarks/results/eval_bench.json and eval_bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from train_bench import fmt_load, machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
TRAIN = [
    "train", "--preset", "r1-fashion-sparse", "--epochs", "2",
    "--set", "data.train_limit=5000", "--set", "data.test_limit=1000",
]  # fmt: skip
PHASE = re.compile(r"(\d+) figures in ([\d.]+) s")
IMPORTS = {
    "torchmetrics (imports scipy.signal)": "import torchmetrics",
    "bokeh (report's interactive figures)": "import bokeh.plotting, bokeh.embed",
    "scikit-learn (PCA baseline fit, probes)": "import sklearn.decomposition",
}
IN_PROCESS = """
import sys, time
from aelab.evaluation.evaluate import evaluate_run
evaluate_run(sys.argv[1], quiet=True)
start = time.perf_counter()
evaluate_run(sys.argv[1], quiet=True)
print(time.perf_counter() - start)
"""


def run(args: list[str], env: dict[str, str], src: Path) -> tuple[float, str]:
    """``python -m aelab ARGS`` with ``src`` first on the path: (wall seconds, output)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *args],
        env={**env, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, out.stdout + out.stderr


def evaluate(run_dir: Path, env: dict[str, str], src: Path) -> dict[str, float]:
    wall, output = run(["-m", "aelab", "evaluate", str(run_dir)], env, src)
    match = PHASE.search(output)
    if match is None:
        raise SystemExit(f"no evaluation line in the output of {src}:\n{output[-2000:]}")
    return {"figures": int(match.group(1)), "phase": float(match.group(2)), "wall": wall}


def import_seconds(statement: str, env: dict[str, str]) -> float:
    code = (
        f"import time, torch\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
    )
    _, out = run(["-c", code], env, ROOT / "src")
    return float(out.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, help="an older checkout's src folder")
    args = parser.parse_args()
    variants = {"now": ROOT / "src"}
    if args.baseline_src:
        variants["before"] = args.baseline_src.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": f"{tmp}/cache", "PYTHONHASHSEED": "0"}
        run_dir = Path(tmp) / "r1"
        _, output = run(["-m", "aelab", *TRAIN, "--out", str(run_dir)], env, ROOT / "src")
        cold = PHASE.search(output)
        print(f"trained and evaluated once (cold PCA cache): {cold.group(0) if cold else '?'}")
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for r in range(args.rounds):
            for name, src in variants.items():
                rounds[name].append(evaluate(run_dir, env, src))
            print(
                f"round {r + 1}: "
                + ", ".join(f"{n} {v[-1]['phase']:.2f} s" for n, v in rounds.items())
            )
        in_process = {}
        for name, src in variants.items():
            _, out = run(["-c", IN_PROCESS, str(run_dir)], env, src)
            in_process[name] = float(out.strip().splitlines()[-1])
        imports = {
            label: median([import_seconds(s, env) for _ in range(3)])
            for label, s in IMPORTS.items()
        }
    result = {
        "machine": machine(),
        "load": "load average at the end " + fmt_load(os.getloadavg()),
        "command": "aelab " + " ".join(TRAIN),
        "cold_phase": float(cold.group(2)) if cold else None,
        "rounds": rounds,
        "medians": {
            name: {key: median([v[key] for v in values]) for key in ("phase", "wall")}
            for name, values in rounds.items()
        },
        "in_process": in_process,
        "imports": imports,
    }
    write(result)


def write(result: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "eval_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    med, n = result["medians"], len(result["rounds"]["now"])
    lines = [
        "# eval_bench: evaluating a small run (1,000 test images)",
        "",
        f"Machine: {result['machine']}; {result['load']}.",
        "",
        f"The run: `{result['command']}` (R1, real Fashion-MNIST, 2 epochs on 5,000 training "
        "images, 1,000 test images). Then `aelab evaluate RUN` (7 figures, the interactive "
        "code map, report.html), each in a fresh process, PCA baseline cache warm; "
        f"{n} interleaved rounds, medians. The first evaluation (cold cache, PCA fitted on "
        f"the 5,000 images) took {result['cold_phase']} s.",
        "",
        "| source | evaluation phase s | whole process s | in-process, imports done s |",
        "|---|---:|---:|---:|",
    ]
    for name in med:
        lines.append(
            f"| {name} | {med[name]['phase']:.2f} | {med[name]['wall']:.2f} | "
            f"{result['in_process'][name]:.2f} |"
        )
    if "before" in med:
        lines += [
            "",
            f"Evaluation phase, now / before: **{med['now']['phase'] / med['before']['phase']:.2f}** "
            f"({med['before']['phase']:.2f} s -> {med['now']['phase']:.2f} s).",
        ]
    lines += [
        "",
        "Per round (evaluation phase, s): "
        + "; ".join(
            f"{k}: " + ", ".join(f"{v['phase']:.2f}" for v in vals)
            for k, vals in result["rounds"].items()
        )
        + ".",
        "",
        "Imports a first evaluation pays (fresh process, torch already imported; median of 3):",
        "",
        "| library | s |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {s:.2f} |" for label, s in result["imports"].items()]
    text = "\n".join(lines) + "\n"
    (RESULTS / "eval_bench.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
