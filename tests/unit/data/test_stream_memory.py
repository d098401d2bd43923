"""Training on an IterableDataset holds a batch at a time, not the dataset: peak memory does
not grow with the number of items (measured in a child process). The child reads its own
peak RSS, VmHWM: Linux keeps ru_maxrss across fork and exec, so under a large pytest
process ru_maxrss would report the parent's peak and the test could not fail."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DIM = 1024
SMALL, LARGE = 2_000, 20_000

CHILD = textwrap.dedent(
    f"""
    import json
    import torch
    from torch.utils.data import IterableDataset
    from aelab.config import DataConfig, RunConfig, TrainConfig
    from aelab.models.dense import DenseConfig
    from aelab.training import train

    class GeneratedRows(IterableDataset):
        def __init__(self, n):
            self.n = n
        def __iter__(self):
            gen = torch.Generator().manual_seed(0)
            for start in range(0, self.n, 512):
                yield from torch.rand(min(512, self.n - start), {DIM}, generator=gen)

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    cfg = RunConfig(
        name="stream",
        data=DataConfig(validation="none"),
        model=DenseConfig(latent_dim=8),
        train=TrainConfig(epochs=1, batch_size=256, device="cpu", threads=1),
    )
    peaks = []
    for n in ({SMALL}, {LARGE}):
        result = train(cfg, None, data=GeneratedRows(n), quiet=True)
        peaks.append(peak_mb())
    print(json.dumps({{"peaks": peaks, "images": result.history[0]["train_loss"] > 0}}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc (VmHWM)")
def test_streamed_epoch_memory_does_not_grow_with_the_items() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600, check=False
    )
    if out.returncode:
        pytest.fail(out.stderr[-2000:])
    small, large = json.loads(out.stdout.strip().splitlines()[-1])["peaks"]
    materialised_mb = (LARGE - SMALL) * DIM * 4 / 2**20  # 70 MB had the items been kept
    assert large - small < materialised_mb / 3, (small, large)
