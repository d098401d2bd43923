"""Data-parallel training: ``torchrun --nproc_per_node=2 -m aelab train`` on CPU (gloo)
matches a one-process run of the same config.

Why they agree: ``train.batch_size`` is the global batch; rank r takes positions r, r+2,
... of each epoch's permutation, so the two ranks' half-batches of step k are exactly the
one-process batch k, and DDP averages their gradients (equal halves: the full-batch
mean). Only the order of floating-point sums differs, so the losses agree to ~1e-6;
the test allows a relative 1e-4.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aelab.rundir import read_history, read_metrics
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration

TOLERANCE = 1e-4  # relative, on every epoch's train and validation loss


def aelab_train(out, idx_dir, nproc: int):
    args = [
        "train", "--preset", "r4-fc", "--dataset", f"idx:{idx_dir}",
        "--epochs", "3", "--batch-size", "32", "--lr", "0.003",
        "--set", "data.validation=split", "--set", "data.val_size=64",
        "--set", "train.threads=1",
        "--out", str(out), "--no-eval", "--quiet",
    ]  # fmt: skip
    launcher = [sys.executable, "-m", "aelab"]
    if nproc > 1:
        launcher = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "aelab",
        ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*launcher, *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return read_history(out)


def test_two_processes_match_one(tmp_path):
    idx_dir = tmp_path / "idx"
    write_idx_dataset(idx_dir, n_train=576, n_test=64, shape=(8, 8), classes=4)
    one = aelab_train(tmp_path / "one", idx_dir, nproc=1)
    two = aelab_train(tmp_path / "two", idx_dir, nproc=2)
    assert [r["epoch"] for r in two] == [1, 2, 3]
    for a, b in zip(one, two, strict=True):
        for key in ("train_loss", "val_loss"):
            assert b[key] == pytest.approx(a[key], rel=TOLERANCE), (key, a, b)
    assert one[-1]["train_loss"] < one[0]["train_loss"]
    run = read_metrics(tmp_path / "two")["run"]
    assert run["world_size"] == 2 and run["epochs_completed"] == 3
    # rank 0 alone wrote: exactly the one-process layout
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
