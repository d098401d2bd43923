"""Reuse fixtures: a tiny labelled dataset with planted structure (4 classes, each a bar at
its own angle, 12x12 pixels) saved as an npz dataset, and one small dense run trained on it
once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.data.splits import DatasetSplits
from aelab.models.dense import DenseConfig
from fakedata import tiny_splits

SHAPE = (1, 12, 12)
CLASSES = 4


def tiny_config(dataset: str = "tiny", **train) -> RunConfig:
    """A dense 144-32-8-32-144 autoencoder that learns the tiny data in a second."""
    return RunConfig(
        name="tiny",
        data=DataConfig(dataset=dataset, validation="split", val_size=24),
        model=DenseConfig(latent_dim=8, hidden=(32,)),
        train=TrainConfig(
            **{"epochs": 25, "batch_size": 32, "lr": 3e-3, "device": "cpu", "threads": 1} | train
        ),
    )


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The probe's baseline cache (and any other user cache) in the test's own folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="session")
def tiny_data() -> DatasetSplits:
    return tiny_splits(264, shape=SHAPE, classes=CLASSES, n_test=120, val=24)


@pytest.fixture(scope="session")
def npz_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data as an ``npz:`` dataset (x_train, y_train, x_test, y_test)."""
    data = tiny_splits(264, shape=SHAPE, classes=CLASSES, n_test=120)
    path = tmp_path_factory.mktemp("reuse-data") / "tiny.npz"
    np.savez(
        path,
        x_train=data.train.images,
        y_train=data.train.labels,
        x_test=data.test.images,
        y_test=data.test.labels,
    )
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, npz_dataset: Path) -> Path:
    """A finished run directory of the tiny dense model on the npz dataset."""
    from aelab.training import train

    out = tmp_path_factory.mktemp("reuse-run") / "run"
    train(tiny_config(f"npz:{npz_dataset}"), out, quiet=True)
    return out
