"""Real MNIST from the project's shared data (``../shared/datasets/mnist``, the four IDX
files; CI has it beside the clone): the counts, statistics and checksums every MNIST user
knows, and R2's preset training on it. Skipped, with the reason, where the files are absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aelab.data import load_dataset
from aelab.data.config import DataConfig
from aelab.rundir import read_history, read_metrics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT.parent / "shared" / "datasets" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / "train-images-idx3-ubyte.gz").exists(),
    reason=f"real MNIST is not at {MNIST} (the shared data beside the repository)",
)

# The canonical MNIST class counts (LeCun et al.), train and test.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
def test_real_mnist_counts_statistics_and_r2_split() -> None:
    data = load_dataset(DataConfig(dataset="mnist", data_dir=str(MNIST), validation="none"))
    assert data.shape == (1, 28, 28)
    assert np.bincount(data.train.labels).tolist() == TRAIN_COUNTS
    assert np.bincount(data.test.labels).tolist() == TEST_COUNTS
    assert data.train.images.mean() / 255 == pytest.approx(0.1307, abs=5e-5)
    assert data.train.images.std() / 255 == pytest.approx(0.3081, abs=5e-5)
    # R2's split: 50,000 train / 10,000 validation from the training images, seeded.
    r2 = load_dataset(DataConfig(dataset="mnist", data_dir=str(MNIST)), seed=0)
    assert (len(r2.train), len(r2.val), len(r2.test)) == (50_000, 10_000, 10_000)
    again = load_dataset(DataConfig(dataset="mnist", data_dir=str(MNIST)), seed=0)
    assert np.array_equal(r2.val.labels, again.val.labels)


@needs_mnist
def test_r2_preset_trains_on_real_mnist(tmp_path: Path) -> None:
    """R2 (784-256-32-256-784, L1 1e-5, BCE) for one epoch on 10,000 real images: the
    validation BCE falls well below the ~0.69 of an untrained sigmoid output."""
    out = tmp_path / "r2"
    cmd = [sys.executable, "-m", "aelab", "train", "--preset", "r2-mnist-deep-sparse"]
    cmd += ["--epochs", "1", "--out", str(out), "--data-dir", str(MNIST)]
    cmd += ["--set", "data.train_limit=10000", "--set", "data.test_limit=2000"]
    cmd += ["--set", "train.threads=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = read_metrics(out)["run"]
    assert run["preset"] == "r2-mnist-deep-sparse" and run["parameters"] == 419_120
    (row,) = read_history(out)
    assert row["val_loss"] < 0.30
    assert read_metrics(out)["reconstruction"]["mse"] < 0.08
