"""CLI wall times on real Fashion-MNIST: ``aelab probe`` and the fixed cost of a tiny run.

1. ``aelab probe RUN`` on a full R1 run (2 epochs; 60,000 train codes, 10,000 test codes,
   PCA and pixel baselines): with a cold baseline cache (the PCA and pixel scores
   computed) and a warm one (only the codes probed), alternating per round.
2. A tiny run end to end, ``aelab train`` = train + evaluate + report: R1, 1 epoch on
   1,000 training images, validated on 1,000 (``data.val_limit``), evaluated on the
   10,000 test images, with ``--figures all | basic | none``; plus today's tiny run
   without ``val_limit`` (10,000 validation images) and, with ``--baseline-src``, the
   same command on an older source tree (before/after in one run).

Every command runs as a fresh process (imports included: that is what a user waits for),
with a private user cache (``XDG_CACHE_HOME``) whose prepared dataset arrays are warmed
first. Rounds interleave the variants; medians are reported with every value.

    python benchmarks/cli_bench.py                        # 3 tiny rounds, 1 probe round
    python benchmarks/cli_bench.py --baseline-src /tmp/base/src   # add the "before" row
    python benchmarks/cli_bench.py --rounds 1 --probe-rounds 0    # a quick check

Writes benchmarks/results/cli_bench.json and cli_bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from train_bench import fmt_load, machine

RESULTS = Path(__file__).resolve().parent / "results"
TINY = ["--epochs", "1", "--set", "data.train_limit=1000"]
VAL_LIMIT = ["--set", "data.val_limit=1000"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def aelab(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``python -m aelab ARGS`` in a fresh process; fails loudly.
    CPU time (user + system, all threads) barely moves with other jobs' load; wall does."""
    start, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run(
        [sys.executable, "-m", "aelab", *args], env=env, capture_output=True, text=True
    )
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit(f"aelab {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return seconds, cpu


def tiny_variants(tmp: Path, baseline_src: str | None) -> dict[str, tuple[list[str], str | None]]:
    """Name -> (aelab arguments, PYTHONPATH override or None)."""
    out = {}
    for figures in ("all", "basic", "none"):
        out[f"--figures {figures}, val 1,000"] = (
            [*TINY, *VAL_LIMIT, "--figures", figures, "--out", str(tmp / f"tiny-{figures}")],
            None,
        )
    out["--figures all, val 10,000 (no val_limit)"] = (
        [*TINY, "--out", str(tmp / "tiny-val")],
        None,
    )
    if baseline_src:
        out["before (baseline source), val 10,000"] = (
            [*TINY, "--out", str(tmp / "tiny-before")],
            baseline_src,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="tiny-run rounds (medians)")
    parser.add_argument("--probe-rounds", type=int, default=1, help="cold+warm probe rounds")
    parser.add_argument("--probe-epochs", type=int, default=2)
    parser.add_argument("--baseline-src", help="an older aelab source tree (its src/) to compare")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli_bench_") as tmp_name:
        tmp = Path(tmp_name)
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
        print("training the probe subject (not timed) ...", flush=True)
        subject = tmp / "r1"
        train_s, _ = aelab(
            ["train", "--preset", "r1-fashion-sparse", "--epochs", str(args.probe_epochs),
             "--out", str(subject), "--no-eval", "--quiet"],
            env,
        )  # fmt: skip
        probe: dict[str, list[tuple[float, float]]] = {"cold cache": [], "warm cache": []}
        for r in range(args.probe_rounds):
            shutil.rmtree(tmp / "cache" / "aelab" / "baselines", ignore_errors=True)
            for name in probe:
                probe[name].append(aelab(["probe", str(subject), "--no-write", "--quiet"], env))
                wall, cpu = probe[name][-1]
                print(f"probe round {r + 1} {name}: {wall:.1f} s ({cpu:.1f} s CPU)", flush=True)

        variants = tiny_variants(tmp, args.baseline_src)
        tiny: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for r in range(args.rounds):
            for name, (cli, src) in variants.items():
                run_env = env if src is None else dict(env, PYTHONPATH=src)
                cmd = ["train", "--preset", "r1-fashion-sparse", *cli, "--overwrite", "--quiet"]
                tiny[name].append(aelab(cmd, run_env))
                wall, cpu = tiny[name][-1]
                print(f"tiny round {r + 1} {name}: {wall:.1f} s ({cpu:.1f} s CPU)", flush=True)
        import_s = [
            aelab(["--version"], env) for _ in range(max(args.rounds, 1))
        ]  # interpreter + CLI start, for scale

    report = {
        "benchmark": "cli_bench: aelab probe and a tiny run end to end, Fashion-MNIST",
        "machine": machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "probe_subject": f"R1, {args.probe_epochs} epochs ({train_s:.0f} s to train, not timed)",
        "probe_seconds": {k: summary(v) for k, v in probe.items()},
        "tiny_seconds": {k: summary(v) for k, v in tiny.items()},
        "aelab_version_seconds": summary(import_s),
        "baseline_src": args.baseline_src,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "cli_bench.md").write_text(markdown(report))
    print(markdown(report))


def summary(runs: list[tuple[float, float]]) -> dict:
    """Medians of the wall and CPU seconds, and every value."""
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    return {
        "median": statistics.median(walls) if walls else None,
        "cpu_median": statistics.median(cpus) if cpus else None,
        "all": walls,
        "cpu_all": cpus,
    }


def markdown(r: dict) -> str:
    def row(name: str, entry: dict, base: dict) -> str:
        wall = f"{entry['median'] / base['median']:.2f}x"
        cpu = f"{entry['cpu_median'] / base['cpu_median']:.2f}x"
        walls = ", ".join(f"{v:.1f}" for v in entry["all"])
        cpus = ", ".join(f"{v:.1f}" for v in entry["cpu_all"])
        return (
            f"| {name} | {entry['median']:.1f} | {wall} | {entry['cpu_median']:.1f} | {cpu} "
            f"| {walls} | {cpus} |"
        )

    lines = [
        "# cli_bench: aelab probe and a tiny run end to end (Fashion-MNIST)",
        "",
        f"Machine: {r['machine']}; load average at the end {fmt_load(r['load_average'])} "
        f"on {r['cpus']} CPUs (a shared machine, loaded by other jobs during the benchmark: "
        "absolute seconds are inflated, the ratios within a round are what carries over). "
        "Every command is a fresh process (imports included); "
        f"`aelab --version` alone takes {r['aelab_version_seconds']['median']:.1f} s here "
        f"({r['aelab_version_seconds']['cpu_median']:.1f} s CPU). CPU seconds (user + "
        "system of the process and its threads) move far less with the load than wall "
        "seconds: compare those.",
        "",
        f"## aelab probe on a full run ({r['probe_subject']})",
        "",
        "60,000 train codes, 10,000 test codes; logistic regression (lbfgs, 100 iterations), "
        "5-NN and k-means on the codes, PCA-32 and the 784 pixels.",
        "",
        "| cache | wall s | vs cold | CPU s | vs cold | all wall s | all CPU s |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    cold = r["probe_seconds"]["cold cache"]
    for name, entry in r["probe_seconds"].items():
        if entry["all"]:
            lines.append(row(name, entry, cold))
    lines += [
        "",
        "## A tiny run end to end: train + evaluate + report",
        "",
        "R1, 1 epoch on 1,000 training images, evaluated on the 10,000 test images; "
        "`aelab train ... --quiet` wall time.",
        "",
        "| variant | wall s | vs first row | CPU s | vs first row | all wall s | all CPU s |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    tiny = r["tiny_seconds"]
    base = tiny["--figures all, val 1,000"]
    for name, entry in tiny.items():
        lines.append(row(name, entry, base))
    if r.get("baseline_src"):
        lines += ["", f"Baseline source: `{r['baseline_src']}`."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
