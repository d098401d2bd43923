"""CLI wall times on real Fashion-MNIST: ``aelab probe`` and the fixed cost of a tiny run.

1. ``aelab probe RUN`` on a full R1 run (2 epochs; 60,000 train codes, 10,000 test codes,
   PCA and pixel baselines): with a cold baseline cache (the PCA and pixel scores
   computed) and a warm one (only the codes probed), alternating per round.
2. A tiny run end to end, ``aelab train`` = train + evaluate + report: R1, 1 epoch on
   1,000 training images, validated on 1,000 (``data.val_limit``), evaluated on the
   10,000 test images, with ``--figures all | basic | none``; plus today's tiny run
   without ``val_limit`` (10,000 validation images) and, with ``--baseline-src``, the
   same command on an older source tree (before/after in one run).
3. Start-up commands that only print (``aelab presets show NAME``, with and without
   ``--set``, ``aelab presets``, ``aelab --help``): their wall time is imports and
   start-up; with ``--baseline-src``, each also on the older source tree.

Every command runs as a fresh process (imports included: that is what a user waits for),
with a private user cache (``XDG_CACHE_HOME``) whose prepared dataset arrays are warmed
first. Rounds interleave the variants; medians are reported with every value.

    python benchmarks/cli_bench.py                        # 3 tiny rounds, 1 probe round
    python benchmarks/cli_bench.py --baseline-src /tmp/base/src   # add the "before" row
    python benchmarks/cli_bench.py --rounds 1 --probe-rounds 0    # a quick check
    python benchmarks/cli_bench.py --startup-only --baseline-src /tmp/base/src
        # only the start-up commands; the other figures are kept from the last results file

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
STARTUP = {  # label -> aelab arguments
    "presets show r1-fashion-sparse": ["presets", "show", "r1-fashion-sparse"],
    "presets show r1-fashion-sparse --toml": ["presets", "show", "r1-fashion-sparse", "--toml"],
    "presets show r1-fashion-sparse --set model.latent_dim=16": [
        "presets", "show", "r1-fashion-sparse", "--set", "model.latent_dim=16",
    ],
    "presets": ["presets"],
    "--help": ["--help"],
}  # fmt: skip


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


def startup(rounds: int, env: dict[str, str], baseline_src: str | None) -> dict:
    """Median wall/CPU seconds of each start-up command, rounds interleaved; with a
    baseline source, each command also on it (``before``) in the same rounds."""
    trees = {"after": None, **({"before": baseline_src} if baseline_src else {})}
    runs: dict[str, dict[str, list]] = {tree: {k: [] for k in STARTUP} for tree in trees}
    for r in range(rounds):
        for name, cli in STARTUP.items():
            for tree, src in trees.items():
                run_env = env if src is None else dict(env, PYTHONPATH=src)
                runs[tree][name].append(aelab(cli, run_env))
                wall, cpu = runs[tree][name][-1]
                print(f"start-up round {r + 1} {tree} aelab {name}: {wall:.2f} s ({cpu:.2f} s CPU)")
    return {
        "machine": machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rounds": rounds,
        "baseline_src": baseline_src,
        "seconds": {tree: {k: summary(v) for k, v in by.items()} for tree, by in runs.items()},
    }


def probe_and_tiny(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> dict:
    """Sections 1 and 2: ``aelab probe`` cold and warm, and the tiny runs end to end."""
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
    return {
        "machine": machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "probe_subject": f"R1, {args.probe_epochs} epochs ({train_s:.0f} s to train, not timed)",
        "probe_seconds": {k: summary(v) for k, v in probe.items()},
        "tiny_seconds": {k: summary(v) for k, v in tiny.items()},
        "aelab_version_seconds": summary(import_s),
        "baseline_src": args.baseline_src,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="tiny-run rounds (medians)")
    parser.add_argument("--probe-rounds", type=int, default=1, help="cold+warm probe rounds")
    parser.add_argument("--probe-epochs", type=int, default=2)
    parser.add_argument("--startup-rounds", type=int, default=7, help="start-up rounds")
    parser.add_argument(
        "--startup-only",
        action="store_true",
        help="measure only the start-up commands (no dataset needed); the probe and tiny-run "
        "figures are kept from the last results file",
    )
    parser.add_argument("--baseline-src", help="an older aelab source tree (its src/) to compare")
    args = parser.parse_args()

    previous = RESULTS / "cli_bench.json"
    report = json.loads(previous.read_text()) if args.startup_only else {}
    report["benchmark"] = "cli_bench: aelab probe, a tiny run end to end and start-up commands"
    with tempfile.TemporaryDirectory(prefix="cli_bench_") as tmp_name:
        tmp = Path(tmp_name)
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
        if not args.startup_only:
            report.update(probe_and_tiny(args, tmp, env))
        report["startup"] = startup(args.startup_rounds, env, args.baseline_src)

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
        "# cli_bench: aelab probe, a tiny run end to end (Fashion-MNIST), start-up commands",
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
    if "startup" in r:
        lines += startup_markdown(r["startup"])
    return "\n".join(lines) + "\n"


def startup_markdown(s: dict) -> list[str]:
    after, before = s["seconds"]["after"], s["seconds"].get("before")
    lines = [
        "",
        "## Start-up commands: they only print",
        "",
        f"Measured separately: {s['machine']}; load average at the end "
        f"{fmt_load(s['load_average'])} on {s['cpus']} CPUs; medians of {s['rounds']} "
        "interleaved rounds, every command a fresh process (`python -m aelab ...`)"
        + (f"; before = the source tree `{s['baseline_src']}`." if before else "."),
        "",
        "| command | wall s | CPU s | all wall s |"
        + (" before: wall s | before: CPU s | before: all wall s |" if before else ""),
        "|---|---:|---:|---|" + ("---:|---:|---|" if before else ""),
    ]
    for name, e in after.items():
        cells = [f"`aelab {name}`", f"{e['median']:.2f}", f"{e['cpu_median']:.2f}"]
        cells.append(", ".join(f"{v:.2f}" for v in e["all"]))
        if before:
            b = before[name]
            cells += [f"{b['median']:.2f}", f"{b['cpu_median']:.2f}"]
            cells.append(", ".join(f"{v:.2f}" for v in b["all"]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
