"""Data-source benchmark: the DataLoader path against the in-memory batcher, and the peak
memory of training on a stream that never fits in memory.

- epoch time: R1 (``r1-fashion-sparse``: dense 784-32-784, batch 256) for one epoch on the
  Fashion-MNIST training images, no validation, passed to ``aelab.training.train`` as
  (a) ``DatasetSplits`` in memory -> ``aelab.data.Batcher`` (the strongest baseline: one
  ``index_select`` per batch), (b) a ``TensorDataset`` -> ``LoaderSource`` (whole batches by
  tensor indexing, no per-item collate), (c) a plain map-style ``Dataset`` -> ``LoaderSource``
  (``__getitem__`` per item plus one collate per batch: what an arbitrary user dataset
  costs). Interleaved rounds (the order rotates each round); medians of the seconds per
  epoch and the median of the per-round (paired) ratios to (a); the same for one epoch of
  batches alone (no training), which isolates the data path. Target: (b) <= 1.5x (a).
- streaming memory: a child process trains R1's model for one epoch on an
  ``IterableDataset`` of ``--stream-items`` generated 784-d rows (a seeded generator, 1,024
  rows at a time, never materialised) and reports its peak RSS before and after training:
  ``VmHWM`` of /proc/self/status and ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. Linux
  keeps ru_maxrss across fork and exec, so the child runs first, before this process loads
  Fashion-MNIST (VmHWM belongs to the child alone). Target: < 1.5 GB.

Writes benchmarks/results/data_source_bench.{json,md}.
Run: ``.venv/bin/python benchmarks/data_source_bench.py [--rounds 5] [--limit 60000]
[--stream-items 200000] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.data import Dataset, IterableDataset, TensorDataset

from aelab.config import DataConfig
from aelab.data import as_splits, load_dataset
from aelab.data.splits import DatasetSplits
from aelab.data.stream import batch_source
from aelab.presets import load_preset
from aelab.training import train
from train_bench import machine  # benchmarks/ is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results"
DATA_DIR = "/usr/share/datasets/fashion-mnist"
TARGET_RATIO = 1.5
TARGET_RSS_MB = 1536


class ItemDataset(Dataset):
    """A map-style dataset with no batch fetch: one ``__getitem__`` per image."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


class GeneratedRows(IterableDataset):
    """``n`` rows of ``dim`` uniform values in [0, 1), generated ``chunk`` rows at a time
    from a seeded generator: the whole set never exists in memory."""

    def __init__(self, n: int, dim: int = 784, seed: int = 0, chunk: int = 1024) -> None:
        self.n, self.dim, self.seed, self.chunk = n, dim, seed, chunk

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed)
        for start in range(0, self.n, self.chunk):
            yield from torch.rand(min(self.chunk, self.n - start), self.dim, generator=gen)


def r1_config(threads: int):
    cfg = load_preset("r1-fashion-sparse")
    return cfg.override(
        ["train.epochs=1", f"train.threads={threads}", "train.device=cpu", "data.validation=none"]
    )


def peak_rss_mb() -> float:
    """ru_maxrss in MiB (KiB on Linux; inherited across fork and exec)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mb() -> float | None:
    """This process's own peak RSS (VmHWM, Linux), or None where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def stream_child(items: int, threads: int) -> None:
    """Train R1's model one epoch on ``items`` generated rows; print the RSS as JSON."""
    cfg = r1_config(threads)
    before, hwm_before = peak_rss_mb(), vm_hwm_mb()
    start = time.perf_counter()
    result = train(cfg, None, data=GeneratedRows(items), quiet=True)
    seconds = time.perf_counter() - start
    row = result.history[0]
    report = {
        "items": items,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "vm_hwm_before_mb": hwm_before,
        "vm_hwm_mb": vm_hwm_mb(),
        "seconds": seconds,
        "train_loss": row["train_loss"],
        "materialised_mb": items * 784 * 4 / 2**20,
    }
    print(json.dumps(report))


def epoch_seconds(cfg, data) -> float:
    return train(cfg, None, data=data, quiet=True).history[0]["seconds"]


def fetch_seconds(data, batch_size: int) -> float:
    """One epoch of batches from ``data``'s BatchSource with no training: the data path alone."""
    splits = as_splits(data, val_size=0)
    source = batch_source(splits.train, batch_size, seed=0)
    source.set_epoch(1)
    start = time.perf_counter()
    for _ in source:
        pass
    return time.perf_counter() - start


def interleaved(names: list[str], rounds: int, measure) -> dict[str, dict]:
    """``measure(name)`` for every name, ``rounds`` times, the order rotating each round;
    medians, and the median over rounds of each name's ratio to the first name (paired runs,
    so slow spells on a shared machine cancel)."""
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(measure(name))
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.3f}s" for n in names))
    base = times[names[0]]
    return {
        n: {
            "median_s": statistics.median(t),
            "paired_ratio": statistics.median(a / b for a, b in zip(t, base, strict=True)),
            "runs_s": t,
        }
        for n, t in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=60000, help="training images (<= 60000)")
    parser.add_argument("--stream-items", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stream-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        stream_child(args.stream_items, args.threads)
        return

    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--stream-child",
            f"--stream-items={args.stream_items}",
            f"--threads={args.threads}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"stream: {stream}")
    torch.set_num_threads(
        args.threads
    )  # as train() does: idle OpenMP threads spin on a busy machine
    cfg = r1_config(args.threads)
    full = load_dataset(
        DataConfig(dataset="fashion-mnist", data_dir=DATA_DIR, validation="none"),
        download=False,
        progress=False,
    )
    train_split = full.train.take(slice(0, args.limit))
    images = torch.from_numpy(train_split.images.copy())
    variants = {
        "in-memory Batcher": DatasetSplits("fashion-mnist", train_split, full.test),
        "TensorDataset -> LoaderSource": TensorDataset(
            images, torch.from_numpy(train_split.labels)
        ),
        "per-item Dataset -> LoaderSource": ItemDataset(images),
    }
    names = list(variants)
    batch = cfg.train.batch_size
    fetch = interleaved(names, args.rounds, lambda n: fetch_seconds(variants[n], batch))
    epoch_seconds(cfg, variants[names[0]])  # warm-up (allocator, kernels)
    epochs = interleaved(names, args.rounds, lambda n: epoch_seconds(cfg, variants[n]))

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "threads": args.threads,
        "rounds": args.rounds,
        "train_images": len(train_split),
        "epochs": epochs,
        "fetch_only": fetch,
        "target_ratio": TARGET_RATIO,
        "stream": stream,
        "target_rss_mb": TARGET_RSS_MB,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "data_source_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "data_source_bench.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# Data sources: DataLoader path vs in-memory batcher",
        "",
        f"{report['date']}, {report['machine']}, {report['threads']} thread(s).",
        "",
        f"R1 (`r1-fashion-sparse`, dense 784-32-784, batch 256), one epoch on "
        f"{report['train_images']:,} Fashion-MNIST training images, no validation; medians "
        f"of {report['rounds']} interleaved rounds.",
        "",
        "| data path | training: median s/epoch | paired ratio | batches only: median s/epoch "
        "| paired ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in report["epochs"].items():
        f = report["fetch_only"][name]
        lines.append(
            f"| {name} | {row['median_s']:.2f} | {row['paired_ratio']:.2f}x | "
            f"{f['median_s']:.3f} | {f['paired_ratio']:.2f}x |"
        )
    s = report["stream"]
    lines += [
        "",
        "Paired ratio: the median over rounds of each run's time over the in-memory run of "
        'the same round. "Batches only" iterates one epoch of the BatchSource with no '
        "training (the data path alone, R1's batch size). Target: TensorDataset -> "
        f"LoaderSource <= {report['target_ratio']}x the in-memory batcher.",
        "",
        "## Streaming memory",
        "",
        f"One epoch of R1's model on an IterableDataset of {s['items']:,} generated 784-d rows "
        f"(never materialised; as float32 they would take {s['materialised_mb']:.0f} MB): "
        f"peak RSS {s['vm_hwm_mb']:.0f} MB by VmHWM ({s['vm_hwm_before_mb']:.0f} MB before "
        f"training), {s['peak_rss_mb']:.0f} MB by ru_maxrss, "
        f"{s['seconds']:.1f} s, train loss {s['train_loss']:.4f}. Target: < "
        f"{report['target_rss_mb']} MB.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
