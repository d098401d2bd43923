"""A checkpoint is one atomic unit: a run killed at any write, then resumed, ends exactly as
the run that was never interrupted, and while killed it serves only committed weights."""

from __future__ import annotations

import os

import pytest
import torch
from training_doubles import tiny_config

from aelab.rundir import CONFIG, read_history, read_metrics
from aelab.training import Callback, load_run, train
from aelab.training.checkpoint import load_state, state_path, unmatched_weights

EPOCHS = 3


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
