"""A checkpoint is one atomic unit: a run killed at any write, then resumed, ends exactly as
the run that was never interrupted, and while killed it serves only committed weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_child import kill_test_config
from training_doubles import tiny_config, tiny_data

from aelab.atomic import device_of
from aelab.config import RunConfig
from aelab.errors import CheckpointError, ConfigError, StorageError
from aelab.rundir import CONFIG, read_history, read_metrics
from aelab.training import Callback, load_run, train
from aelab.training.checkpoint import load_state, state_path, unmatched_weights

EPOCHS = 3
CHILD = Path(__file__).with_name("train_child.py")


def config():
    """3 epochs whose best is epoch 2 (epoch 3 improves val_loss by less than min_delta)."""
    return tiny_config(epochs=EPOCHS, lr=3e-2, min_delta=0.01)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in aelab catches it, so no cleanup or summary runs."""


class Snapshots(Callback):
    """The weights after every epoch of an uninterrupted run (after its checkpoint)."""

    def __init__(self) -> None:
        self.weights: dict[int, dict[str, torch.Tensor]] = {}
        self.best_epoch: dict[int, int] = {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.weights[epoch] = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        self.best_epoch[epoch] = trainer.state.best_epoch


def losses(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def count_renames(monkeypatch, kill_at: int = 0) -> list[str]:
    """Count the atomic writes' renames (the commit of each file); raise Killed before the
    ``kill_at``-th one (1-based; 0: never). Returns the renamed file names, in order."""
    real, names = os.replace, []

    def replace(src, dst):
        if len(names) + 1 == kill_at:
            raise Killed
        names.append(os.path.basename(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return names


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny):
    """The uninterrupted run: its per-epoch weights, its history and the writes it makes."""
    mp = pytest.MonkeyPatch()
    names = count_renames(mp)
    snaps = Snapshots()
    run = tmp_path_factory.mktemp("ref") / "run"
    result = train(config(), run, data=tiny, quiet=True, callbacks=[snaps])
    mp.undo()
    return snaps, result.history, list(names)


def assert_same_weights(model, expected):
    state = model.state_dict()
    assert state.keys() == expected.keys()
    for k, v in expected.items():
        assert torch.equal(state[k], v), k


def test_the_reference_run_writes_what_the_test_kills(reference):
    snaps, _, names = reference
    # config, then per epoch: state (the commit), last, best when it changed, history
    epoch = ["last.state.pt", "last.safetensors", "best.safetensors", "history.csv"]
    assert names == [CONFIG, *epoch, *epoch, *epoch[:2], epoch[3], "history.csv", "metrics.json"]
    assert snaps.best_epoch == {1: 1, 2: 2, 3: 2}  # the best lags the last at the end


@pytest.mark.parametrize("kill_at", range(1, 15))
def test_a_run_killed_at_any_write_serves_committed_weights_and_resumes_exactly(
    kill_at, reference, tiny, tmp_path, monkeypatch
):
    snaps, history, names = reference
    assert kill_at <= len(names)
    run, cfg = tmp_path / "run", config()
    count_renames(monkeypatch, kill_at)
    with pytest.raises(Killed):
        train(cfg, run, data=tiny, quiet=True)
    monkeypatch.undo()

    # killed: whatever is on disk is one committed checkpoint, weights and state agreeing
    if state_path(run).exists():
        epoch = load_state(state_path(run))["epoch"]
        assert_same_weights(load_run(run, checkpoint="last")[0], snaps.weights[epoch])
        best = snaps.best_epoch[epoch]
        assert_same_weights(load_run(run, checkpoint="best")[0], snaps.weights[best])

    resume = (run / CONFIG).exists()  # killed before config.toml: nothing to resume
    result = train(cfg, run, data=tiny, resume=resume, quiet=True)

    state = load_state(state_path(run))
    rows = read_history(run)
    assert state["epoch"] == len(rows) == len(state["history"]) == EPOCHS
    assert losses(rows) == losses(result.history) == losses(history)
    assert unmatched_weights(run, state["weights"]) == []  # the files are the committed ones
    assert_same_weights(load_run(run, checkpoint="last")[0], snaps.weights[EPOCHS])
    best = snaps.best_epoch[EPOCHS]
    assert_same_weights(load_run(run, checkpoint="best")[0], snaps.weights[best])
    summary = read_metrics(run)["run"]
    assert summary["status"] == "completed" and summary["epochs_completed"] == EPOCHS
    assert summary["final_val_loss"] == rows[-1]["val_loss"]
    assert sorted(p.name for p in run.rglob("*.tmp*")) == []


# --------------------------------------------------------------------------- a full disk


def test_a_full_disk_names_the_device_the_file_and_the_last_checkpoint(
    tiny, tmp_path, monkeypatch, disk_full
):
    run = tmp_path / "run"
    disk_full("last.state.pt", nth=2)  # the state of epoch 2
    with pytest.raises(StorageError) as info:
        train(tiny_config(epochs=3), run, data=tiny, quiet=True)
    monkeypatch.undo()
    assert str(info.value) == (
        f"no space left on {device_of(run)} while writing {state_path(run)}; "
        "the last complete checkpoint is epoch 1"
    )
    assert sorted(p.name for p in run.rglob("*") if "tmp" in p.name) == []  # no partial file
    assert load_state(state_path(run))["epoch"] == 1  # the previous checkpoint survives
    load_run(run, checkpoint="last")


def test_a_full_disk_before_the_first_checkpoint_says_there_is_none(tiny, tmp_path, disk_full):
    disk_full("last.state.pt")
    with pytest.raises(StorageError, match="the last complete checkpoint does not exist yet"):
        train(tiny_config(epochs=1), tmp_path / "run", data=tiny, quiet=True)


# --------------------------------------------------------------------------- resuming


def test_a_killed_write_leaves_a_temp_file_that_the_next_start_removes(tmp_path, faulty_family):
    """SIGKILL-like death with a fully written temp file beside last.safetensors (epoch 2)."""
    run = tmp_path / "run"
    cmd = [sys.executable, str(CHILD), str(run), "2", "0", "7"]  # 7th write: epoch 2's weights
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr
    left = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert left[0].startswith(".last.safetensors.") and left[0].endswith(".tmp"), left
    (run / "config.toml.tmp").write_text("left by an older release")
    (run / "checkpoints" / ".last.state.pt.tmp4242").write_bytes(b"older release")

    result = train(kill_test_config(2, 0.0), run, data=tiny_data(), resume=True, quiet=True)
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert sorted(p.name for p in run.rglob("*tmp*")) == []
    state = load_state(state_path(run))
    assert state["epoch"] == 2 and unmatched_weights(run, state["weights"]) == []


def test_resume_without_the_state_is_an_error_once_an_epoch_was_committed(tiny, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(epochs=2), run, data=tiny, quiet=True)
    state_path(run).unlink()
    message = rf"cannot resume {run}: checkpoints/last.state.pt is missing.*--overwrite"
    with pytest.raises(CheckpointError, match=message):
        train(tiny_config(epochs=3), run, data=tiny, resume=True, quiet=True)
    assert RunConfig.load(run / CONFIG).train.epochs == 2  # nothing was changed


def test_resume_before_any_commit_starts_at_epoch_one(tiny, tmp_path, monkeypatch):
    run = tmp_path / "run"
    count_renames(monkeypatch, kill_at=2)  # killed at the first state write
    with pytest.raises(Killed):
        train(tiny_config(epochs=2), run, data=tiny, quiet=True)
    monkeypatch.undo()
    result = train(tiny_config(epochs=2), run, data=tiny, resume=True, quiet=True)
    assert [r["epoch"] for r in result.history] == [1, 2]


def test_resume_refuses_fewer_epochs_than_trained(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config(epochs=2), run, data=tiny, quiet=True)
    message = r"already trained 2 epochs; pass --epochs 2 or more"
    with pytest.raises(ConfigError, match=message):
        train(tiny_config(epochs=1), run, data=tiny, resume=True)
    assert RunConfig.load(run / CONFIG).train.epochs == 2
    out = capsys.readouterr()
    assert "after epoch 2/1" not in out.out + out.err


@pytest.mark.parametrize(("interrupt_at", "said"), [(2, None), (6, 1)])
def test_ctrl_c_during_a_state_write_says_which_checkpoint_is_kept(
    interrupt_at, said, tiny, tmp_path, monkeypatch, capsys
):
    """Ctrl-C while the 1st (write 2) or the 2nd (write 6) state is being written."""
    real = os.replace
    writes = []

    def replace(src, dst):
        writes.append(os.path.basename(dst))
        if len(writes) == interrupt_at:
            assert writes[-1] == "last.state.pt"
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(epochs=3), tmp_path / "run", data=tiny)
    out = capsys.readouterr()
    text = out.out + out.err
    if said is None:
        assert "interrupted before the first checkpoint" in text and "is kept" not in text
    else:
        assert f"the last checkpoint (epoch {said}) is kept" in text
