"""Checkpoints load without executing code, and bad ones fail with CheckpointError."""

from __future__ import annotations

import copy

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
    committed = load_state(state_path(run))["model"]
    model, _ = load_run(run)  # the committed state vouches for other weights: it serves them
    assert all(torch.equal(v, committed[k]) for k, v in model.state_dict().items())
    state_path(run).unlink()
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
    load_run(run)  # the committed state holds the weights (a commit killed before the files)
    state_path(run).unlink()
    with pytest.raises(CheckpointError, match="did not finish an epoch"):
        load_run(run)


def test_no_temp_files_left(run):
    leftovers = [p.name for p in run.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


@pytest.mark.parametrize("family", ["conv", "vae"])
def test_channels_last_conv_weights_round_trip(family, tiny, tmp_path):
    """Conv models train channels-last (Autoencoder.init_weights); their checkpoint is
    written contiguous and loads back into a channels-last model with the same outputs."""
    if family == "vae":
        cfg = tiny_config("vae").override(["model.encoder=conv", "model.channels=[8,16]"])
    else:
        cfg = tiny_config("conv").override(["model.channels=[8,16]"])
    trained = train(cfg.override(["train.epochs=1"]), tmp_path / "run", data=tiny, quiet=True)
    weights = [p for p in trained.model.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert any(not p.is_contiguous() for p in weights)  # really NHWC, not a no-op
    loaded, _ = load_run(tmp_path / "run", checkpoint="last")
    x = torch.as_tensor(tiny.test.images[:16]).float() / 255
    trained.model.eval()
    with torch.no_grad():
        assert torch.equal(trained.model.encode(x), loaded.encode(x))
        assert torch.equal(trained.model(x), loaded(x))


def test_resumed_optimizer_state_takes_the_parameter_layout():
    """A moment saved contiguous (older runs) beside a channels-last weight: fused Adam
    reads both as flat buffers, so without the realignment the update would be scrambled."""
    from aelab.training.optim import match_param_layouts

    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(8, 4, 3, 3))
    reference = torch.optim.Adam([w], fused=True)
    w.grad = torch.randn_like(w)
    reference.step()
    saved = copy.deepcopy(reference.state_dict())  # as if read back from disk

    w_nhwc = torch.nn.Parameter(w.detach().clone().contiguous(memory_format=torch.channels_last))
    resumed = torch.optim.Adam([w_nhwc], fused=True)
    resumed.load_state_dict(saved)
    match_param_layouts(resumed)
    assert resumed.state[w_nhwc]["exp_avg"].stride() == w_nhwc.stride()
    grad = torch.randn_like(w)
    w.grad, w_nhwc.grad = grad.clone(), grad.contiguous(memory_format=torch.channels_last)
    reference.step()
    resumed.step()
    torch.testing.assert_close(w_nhwc.detach(), w.detach())


@pytest.mark.parametrize("content", ["code", "garbage"])
def test_a_corrupt_resume_state_error_never_advises_unsafe_loading(tmp_path, content):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "last.state.pt"
    if content == "code":
        torch.save({"format": 2, "x": Evil()}, path)  # torch's error says weights_only=False
    else:
        path.write_bytes(b"\x80\x02 not a checkpoint")
    with pytest.raises(CheckpointError) as info:
        load_state(path)
    message = str(info.value)
    assert "weights_only" not in message and "can still be loaded" not in message
    assert "not a readable aelab resume state" in message
    assert message.startswith(f"resume state {path} is corrupt (") and "\n" not in message
