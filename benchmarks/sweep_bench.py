"""Sweep throughput: the same 8 short runs sequentially, with local ``--jobs 2``
subprocesses and with ``--executor ray`` (a local Ray instance on 2 CPUs).

Each run is the R1 preset (784 -> 32 -> 784, L1 activity) for 1 epoch on 1,000 generated
28x28 images (200 test, 100 validation), seeds 0-7, trained and evaluated as ``aelab
sweep`` does (``aelab.studies.runner.run_configs``). Every (mode, round) runs in a fresh
child process into a fresh folder, so each pays what the CLI pays: imports, and for Ray
starting and stopping the local instance. Rounds interleave the modes (sequential, jobs,
ray, sequential, ...) so a load change on a shared machine hits all of them; the medians
are reported.

Reported per mode: wall time, the runs' own training seconds (``run.wall_time_s`` of each
metrics.json, summed) and the overhead per run: ``(wall x workers - training) / runs``,
the time a worker slot spends on a run beyond its training loop (start-up, data loading,
evaluation, scheduling). Ray's cost over local ``--jobs 2`` is ``(wall_ray - wall_jobs) x
2 / runs`` per run (target: under 2 s).

    python benchmarks/sweep_bench.py                # 3 rounds
    python benchmarks/sweep_bench.py --rounds 1     # a quick check

Writes benchmarks/results/sweep_bench.json and sweep_bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aelab.rundir import machine

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("sequential", "jobs", "ray")
WORKERS = {"sequential": 1, "jobs": 2, "ray": 2}
RUNS, N_TRAIN, N_TEST = 8, 1000, 200


def write_images(path: Path, seed: int = 0) -> None:
    """An npz of (N, 28, 28) uint8 images: class k is a bar at angle k*pi/10 plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0 - 0.5
    bars = np.stack(
        [
            np.clip(1 - np.abs(xx * np.sin(a) - yy * np.cos(a)) / 0.12, 0, 1)
            for a in np.arange(10) * np.pi / 10
        ]
    )

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        images = bars[labels] * rng.uniform(0.7, 1, (n, 1, 1)) + rng.normal(0, 0.05, (n, 28, 28))
        return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels

    x_train, y_train = split(N_TRAIN)
    x_test, y_test = split(N_TEST)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def one(mode: str, data: Path, out: Path) -> dict[str, float]:
    """Do the 8 runs in this process with ``mode``; wall and summed training seconds."""
    from aelab.presets import load_preset
    from aelab.rundir import read_metrics
    from aelab.studies.runner import LocalExecutor, run_configs

    base = load_preset("r1-fashion-sparse").override(
        [f"data.dataset=npz:{data}", "data.val_size=100", "train.epochs=1"]
    )
    configs = {f"seed-{s}": base.override([f"train.seed={s}"]) for s in range(RUNS)}
    start = time.perf_counter()
    if mode == "ray":
        from aelab.studies.ray_executor import RayExecutor

        executor = RayExecutor(log=lambda msg: None)
    else:
        executor = LocalExecutor(WORKERS[mode], quiet=True, log=lambda msg: None)
    outcome = run_configs(configs, out, executor=executor, quiet=True, log=lambda msg: None)
    wall = time.perf_counter() - start
    if outcome.failed:
        raise SystemExit(f"{mode}: runs failed: {outcome.failed}")
    train = sum(read_metrics(d)["run"]["wall_time_s"] for d in outcome.done.values())
    return {"wall_s": wall, "train_s": train}


def write_results(rounds: dict[str, list[dict[str, float]]], done: int) -> None:
    """The medians over the ``done`` rounds so far, to results/sweep_bench.{json,md}."""
    summary = {}
    for mode in MODES:
        wall = statistics.median(x["wall_s"] for x in rounds[mode])
        train = statistics.median(x["train_s"] for x in rounds[mode])
        overhead = (wall * WORKERS[mode] - train) / RUNS
        summary[mode] = {"wall_s": wall, "train_s": train, "overhead_per_run_s": overhead}
    ray_over_jobs = (summary["ray"]["wall_s"] - summary["jobs"]["wall_s"]) * 2 / RUNS
    result = {
        "machine": machine(),
        "load_average_1min": os.getloadavg()[0],
        "python": sys.version.split()[0],
        "runs": RUNS,
        "rounds": done,
        "workload": f"r1-fashion-sparse, 1 epoch, {N_TRAIN} generated 28x28 images, seeds 0-{RUNS - 1}",
        "summary": summary,
        "ray_over_jobs_per_run_s": ray_over_jobs,
        "rounds_raw": rounds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Sweep throughput: sequential vs local --jobs 2 vs Ray",
        "",
        f"Machine: {result['machine']}, shared (1-minute load average "
        f"{result['load_average_1min']:.1f} when written: absolute times are inflated; compare "
        f"the modes). {RUNS} runs ({result['workload']}); medians of "
        f"{done} interleaved rounds, each mode in a fresh process "
        "(`python benchmarks/sweep_bench.py`).",
        "",
        "| mode | wall (s) | training (s, summed) | overhead per run (s) |",
        "|---|---:|---:|---:|",
    ]
    names = {
        "sequential": "sequential (in process)",
        "jobs": "local --jobs 2",
        "ray": "--executor ray (2 CPUs)",
    }
    for mode in MODES:
        s = summary[mode]
        lines.append(
            f"| {names[mode]} | {s['wall_s']:.1f} | {s['train_s']:.1f} | {s['overhead_per_run_s']:.2f} |"
        )
    lines += [
        "",
        f"Ray over local --jobs 2: {ray_over_jobs:+.2f} s per run (target: under 2 s).",
        "Per round (wall s, in order; the load changes between rounds): "
        + "; ".join(
            f"{names[m]} " + " / ".join(f"{x['wall_s']:.1f}" for x in rounds[m]) for m in MODES
        )
        + ".",
        "Overhead per run = (wall x workers - summed training seconds) / runs: start-up, data "
        "loading, evaluation and scheduling per worker slot.",
    ]
    (RESULTS / "sweep_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.data, args.out)))
        return

    rounds: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        data = Path(tmp) / "images.npz"
        write_images(data)
        for r in range(args.rounds):
            for mode in MODES:
                out = Path(tmp) / f"{mode}-{r}"
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    mode,
                    "--data",
                    str(data),
                    "--out",
                    str(out),
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"{mode} round {r} failed:\n{proc.stderr[-3000:]}")
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                rounds[mode].append(result)
                print(f"round {r + 1} {mode:>10}: {result['wall_s']:.1f} s wall", flush=True)
            write_results(rounds, r + 1)  # after every round: a cut-short run keeps its rounds


if __name__ == "__main__":
    main()
