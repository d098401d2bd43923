"""Data-layer benchmark: load time of Fashion-MNIST and batch throughput.

- cold load: ``load_dataset`` with an empty aelab cache (gzip decompression, SHA-256 of
  the content, IDX parsing); the OS page cache is not dropped;
- warm load: the same with the prepared ``.npy`` arrays in the cache;
- batches per second over one epoch of the 60,000 training images at batch 256:
  ``aelab.data.Batcher`` vs ``torch.utils.data.DataLoader(TensorDataset(...))``, both
  shuffled and yielding float batches in [0, 1].

Medians of repeated trials. Writes benchmarks/results/data_bench.{json,md}.
Run: ``.venv/bin/python benchmarks/data_bench.py [--trials 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from aelab.config import DataConfig
from aelab.data import Batcher, load_dataset

RESULTS = Path(__file__).resolve().parent / "results"
CFG = DataConfig(dataset="fashion-mnist", validation="none")


def _load_seconds(cache: str) -> float:
    os.environ["XDG_CACHE_HOME"] = cache
    start = time.perf_counter()
    load_dataset(CFG, download=False, progress=False)
    return time.perf_counter() - start


def _epoch_batches_per_s(batches) -> float:
    start = time.perf_counter()
    count = sum(1 for batch in batches if batch.shape[0])
    return count / (time.perf_counter() - start)


def _dataloader(images: torch.Tensor, seed: int):
    loader = DataLoader(
        TensorDataset(images),
        batch_size=256,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    for (batch,) in loader:
        yield batch.float().div_(255.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    saved_cache = os.environ.get("XDG_CACHE_HOME")
    cold, warm = [], []
    for _ in range(args.trials):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(_load_seconds(cache))
            warm.append(_load_seconds(cache))
    if saved_cache is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved_cache

    images = torch.from_numpy(load_dataset(CFG, download=False, progress=False).train.images)
    batcher, loader = [], []
    for seed in range(args.trials):
        batcher.append(_epoch_batches_per_s(Batcher(images, 256, seed=seed)))
        loader.append(_epoch_batches_per_s(_dataloader(images, seed)))

    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "trials": args.trials,
        "load_cold_s": statistics.median(cold),
        "load_warm_s": statistics.median(warm),
        "batcher_batches_per_s": statistics.median(batcher),
        "dataloader_batches_per_s": statistics.median(loader),
        "batcher_speedup": statistics.median(batcher) / statistics.median(loader),
        "raw": {"load_cold_s": cold, "load_warm_s": warm, "batcher": batcher, "dataloader": loader},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "data_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    md = f"""# Data benchmark (Fashion-MNIST)

Machine: {m["platform"]}, {m["cpu_count"]} CPUs, torch {m["torch"]} ({m["torch_threads"]} threads),
Python {m["python"]}. Medians of {args.trials} trials. Command: `.venv/bin/python benchmarks/data_bench.py`.

| measure | value | target |
|---|---|---|
| load, cold (gzip + SHA-256 + parse, 70,000 images) | {result["load_cold_s"]:.3f} s | |
| load, warm (prepared .npy in the cache) | {result["load_warm_s"]:.3f} s | < 2 s |
| Batcher, batch 256, shuffled | {result["batcher_batches_per_s"]:,.0f} batches/s | |
| DataLoader(TensorDataset), batch 256, shuffled | {result["dataloader_batches_per_s"]:,.0f} batches/s | |
| Batcher / DataLoader | {result["batcher_speedup"]:.1f}x | >= 10x |
"""
    (RESULTS / "data_bench.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
