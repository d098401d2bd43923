"""Checkpoints load without executing code, and bad ones fail with CheckpointError."""

from __future__ import annotations

import pytest
import torch
from training_doubles import tiny_config

from aelab.errors import CheckpointError, ConfigError
from aelab.training import load_run, train
from aelab.training.checkpoint import (
    load_state,
    read_weights_metadata,
    save_state,
    state_path,
    weights_path,
)


@pytest.fixture
def run(tiny, tmp_path):
    train(tiny_config(epochs=1), tmp_path / "run", data=tiny, quiet=True)
    return tmp_path / "run"


def test_weights_are_self_describing(run):
    meta = read_weights_metadata(weights_path(run, "last"))
    assert meta["family"] == "dense" and meta["epoch"] == "1"
    assert "[model]" in meta["config"] and meta["aelab_version"]


def test_state_is_weights_only_loadable(run):
    state = torch.load(state_path(run), weights_only=True)
    assert {"model", "optimizer", "rng", "epoch", "history", "config", "family"} <= set(state)
    assert state["aelab_version"]


def test_truncated_weights_raise_checkpoint_error(run):
    path = weights_path(run, "best")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(run)


def test_garbage_state_raises_checkpoint_error(run):
    state_path(run).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_state(state_path(run))


def test_state_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "x": Evil()}, path)
    with pytest.raises(CheckpointError):
        load_state(path)


def test_unknown_state_format(tmp_path):
    save_state(tmp_path / "s.pt", {"epoch": 1})
    assert load_state(tmp_path / "s.pt")["epoch"] == 1
    torch.save({"format": 99}, tmp_path / "s.pt")
    with pytest.raises(CheckpointError, match="unknown format"):
        load_state(tmp_path / "s.pt")


def test_mismatched_config_raises_checkpoint_error(run):
    text = (run / "config.toml").read_text().replace("latent_dim = 8", "latent_dim = 5")
    (run / "config.toml").write_text(text)
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_run(run)


def test_missing_checkpoints_and_bad_names(run, tmp_path):
    with pytest.raises(CheckpointError, match="not a run directory"):
        load_run(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="'best' or 'last'"):
        load_run(run, checkpoint="first")
    for name in ("best", "last"):
        weights_path(run, name).unlink()
    with pytest.raises(CheckpointError, match="did not finish an epoch"):
        load_run(run)


def test_no_temp_files_left(run):
    leftovers = [p.name for p in run.rglob("*") if ".tmp" in p.name]
    assert leftovers == []
