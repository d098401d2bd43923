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


def train_args(out, idx_dir) -> list[str]:
    return [
        "train", "--preset", "r4-fc", "--dataset", f"idx:{idx_dir}",
        "--epochs", "3", "--batch-size", "32", "--lr", "0.003",
        "--set", "data.validation=split", "--set", "data.val_size=64",
        "--set", "train.threads=1",
        "--out", str(out), "--no-eval", "--quiet",
    ]  # fmt: skip


def torchrun(nproc: int) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}",
    ]  # fmt: skip


def aelab_train(out, idx_dir, nproc: int):
    args = train_args(out, idx_dir)
    launcher = [sys.executable, "-m", "aelab"]
    if nproc > 1:
        launcher = [*torchrun(nproc), "-m", "aelab"]
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


# Run by each rank: `aelab train` as the CLI runs it, then the names of the threads left
# (into OUT_DIR/threads-RANK.txt).
AFTER_TRAIN = """
import os, sys
from aelab.cli.main import main
out, argv = sys.argv[1], sys.argv[2:]
code = main(argv)
names = sorted(open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task"))
with open(os.path.join(out, f"threads-{os.environ['RANK']}.txt"), "w") as f:
    f.write(" ".join(names))
sys.exit(code)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_ranks_leave_no_backend_thread_running_after_train(tmp_path):
    """Issue 25: the gloo backend outlived destroy_process_group (held by torch._dynamo,
    imported by the first optimizer while the group existed, and by the DDP wrapper), so
    every rank exited with gloo's worker and socket threads running, where a loaded
    machine saw a rank abort. After `aelab train` returns, no gloo thread is left."""
    idx_dir = tmp_path / "idx"
    write_idx_dataset(idx_dir, n_train=128, n_test=16, shape=(8, 8), classes=4)
    script = tmp_path / "after_train.py"
    script.write_text(AFTER_TRAIN)
    args = train_args(tmp_path / "run", idx_dir)
    args[args.index("3")] = "1"  # --epochs 1: the teardown is what is tested
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*torchrun(2), str(script), str(tmp_path), *args],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in (0, 1):
        names = (tmp_path / f"threads-{rank}.txt").read_text().split()
        assert names and not [n for n in names if "gloo" in n], (rank, names)
