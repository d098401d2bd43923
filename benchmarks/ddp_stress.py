"""Run ``torchrun --nproc_per_node=2 -m aelab train`` N times, optionally beside CPU-bound
load, and count how many runs fail and how (a SIGABRT on teardown was issue 25's bug).

    python benchmarks/ddp_stress.py --runs 20 --load 2
    python benchmarks/ddp_stress.py --runs 20 --load 2 --json benchmarks/results/ddp_stress.json

Every run is bounded (``--timeout`` seconds each, ``--budget`` seconds in all) and the
load processes (``--load`` busy loops, at most 2) are killed on the way out, whatever
happens.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakedata import write_idx_dataset

ABORT = "terminate called"


def train_args(idx_dir: Path, out: Path) -> list[str]:
    """The same run as tests/integration/test_ddp.py, two processes."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "aelab", "train", "--preset", "r4-fc", "--dataset", f"idx:{idx_dir}",
        "--epochs", "3", "--batch-size", "32", "--lr", "0.003",
        "--set", "data.validation=split", "--set", "data.val_size=64",
        "--set", "train.threads=1", "--out", str(out), "--no-eval", "--quiet",
    ]  # fmt: skip


def classify(proc: subprocess.CompletedProcess[str] | None) -> str:
    """'ok', 'timeout', 'abort' (SIGABRT / std::terminate) or 'exit <code>'."""
    if proc is None:
        return "timeout"
    if proc.returncode == 0:
        return "ok"
    if ABORT in proc.stderr or "SIGABRT" in proc.stderr or "Signal 6" in proc.stderr:
        return "abort"
    return f"exit {proc.returncode}"


def first_error(stderr: str) -> str:
    """The lines that say what failed in a rank (not torchrun's own traceback)."""
    keep = [
        line
        for line in stderr.splitlines()
        if ABORT in line or "Error" in line or "error:" in line or "Signal" in line
    ]
    return "\n".join(keep[:12])


def cold_cache(cold: bool, path: Path) -> dict[str, str]:
    return {"PYTHONPYCACHEPREFIX": str(path)} if cold else {}


def start_load(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run")
    parser.add_argument("--budget", type=float, default=1500.0, help="seconds in all")
    parser.add_argument("--json", type=Path, help="write the counts here")
    parser.add_argument(
        "--cold", action="store_true", help="a fresh bytecode cache per run, as a clean clone"
    )
    args = parser.parse_args()
    # faulthandler: a rank that aborts prints every thread's Python stack
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    outcomes: list[str] = []
    seconds: list[float] = []
    tails: list[str] = []
    deadline = time.monotonic() + args.budget
    load = start_load(args.load)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            idx_dir = Path(tmp) / "idx"
            write_idx_dataset(idx_dir, n_train=576, n_test=64, shape=(8, 8), classes=4)
            for i in range(args.runs):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                t0 = time.perf_counter()
                try:
                    proc = subprocess.run(
                        train_args(idx_dir, Path(tmp) / f"run{i}"),
                        capture_output=True,
                        text=True,
                        timeout=min(args.timeout, left),
                        env=env | cold_cache(args.cold, Path(tmp) / f"pycache{i}"),
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    proc = None
                seconds.append(time.perf_counter() - t0)
                outcome = classify(proc)
                outcomes.append(outcome)
                if outcome != "ok" and proc is not None:
                    tails.append(first_error(proc.stderr))
                print(f"run {i + 1}: {outcome} ({seconds[-1]:.1f} s)", flush=True)
    finally:
        stop_load(load)
    counts = Counter(outcomes)
    summary = {
        "runs": len(outcomes),
        "load_processes": args.load,
        "ok": counts["ok"],
        "failed": len(outcomes) - counts["ok"],
        "outcomes": dict(counts),
        "mean_seconds": sum(seconds) / len(seconds) if seconds else None,
    }
    print(json.dumps(summary))
    for tail in tails[:3]:
        print("---- failed run, stderr tail:\n" + tail)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["failed"] == 0 and len(outcomes) == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
