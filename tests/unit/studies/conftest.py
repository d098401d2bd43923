"""Fixtures of the results tests: a tiny IDX dataset on disk and tiny trained runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakedata import write_idx_dataset

N_TRAIN, N_TEST, VAL = 96, 24, 16


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny 28x28 IDX files (10 classes), loaded with ``dataset = "idx:DIR"``."""
    directory = tmp_path_factory.mktemp("idx")
    write_idx_dataset(directory, n_train=N_TRAIN, n_test=N_TEST)
    return directory


def tiny_sets(idx_dir: Path) -> list[str]:
    """Overrides that put any preset on the tiny data: 1 epoch, small batches, 1 thread."""
    return [
        f"data.dataset=idx:{idx_dir}",
        f"data.val_size={VAL}",
        "train.batch_size=32",
        "train.epochs=1",
        "train.threads=1",
    ]


def tiny_config(idx_dir: Path, preset: str, *overrides: str):
    from aelab.presets import load_preset

    return load_preset(preset).override([*tiny_sets(idx_dir), *overrides])


@pytest.fixture(scope="session")
def base_config(idx_dir: Path):
    """The R3 vanilla preset on the tiny data."""
    return tiny_config(idx_dir, "r3-fashion-vanilla")


@pytest.fixture(scope="session")
def three_configs(idx_dir: Path, base_config) -> dict:
    """Three named configs: dense code 4, dense code 8 with L1, conv code 8."""
    return {
        "dense-4": base_config.override(["model.latent_dim=4"]),
        "sparse-8": base_config.override(
            ["model.latent_dim=8", "model.sparsity.kind=l1", "model.sparsity.weight=1e-4"]
        ),
        "conv-8": tiny_config(
            idx_dir, "r3-fashion-conv", "model.latent_dim=8", "model.channels=[4,8]"
        ),
    }


@pytest.fixture(scope="session")
def three_runs(tmp_path_factory: pytest.TempPathFactory, three_configs: dict) -> list[Path]:
    """The three configs trained and evaluated in this process."""
    from aelab.studies.runner import run_configs

    out = tmp_path_factory.mktemp("runs")
    outcome = run_configs(three_configs, out, quiet=True, log=lambda msg: None)
    assert not outcome.failed, outcome.failed
    return [outcome.done[name] for name in three_configs]
