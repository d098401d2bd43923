"""The callback seam: what user callbacks see, stopping a run from one, and the order in
which the built-in and the user's callbacks run."""

from __future__ import annotations

import math

import pytest
from training_doubles import tiny_config

from aelab.errors import ConfigError
from aelab.rundir import is_complete, read_history, read_metrics
from aelab.training import Callback, train
from aelab.training.callbacks import (
    EarlyStopping,
    EpochState,
    ModelCheckpoint,
    ProgressCallback,
    TerminateOnNaN,
)
from aelab.training.checkpoint import load_state, read_weights_metadata, state_path, weights_path


class Recorder(Callback):
    """Records every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.logs: list[dict[str, float]] = []

    def on_train_start(self, trainer):
        self.calls.append(("start", trainer.state.epoch, trainer.model.training))

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(("epoch_start", epoch))

    def on_train_batch_end(self, trainer, epoch, step, window):
        self.calls.append(("batch", epoch, step, window))

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("epoch_end", epoch))
        self.logs.append(dict(logs))

    def on_train_end(self, trainer, status):
        self.calls.append(("end", status))


class StopAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            trainer.request_stop(f"asked at epoch {epoch}")


def test_a_callback_receives_every_epochs_logs_and_every_step(tiny):
    rec = Recorder()
    result = train(tiny_config(epochs=3), None, data=tiny, quiet=True, callbacks=[rec])
    assert [r["epoch"] for r in rec.logs] == [1, 2, 3]
    assert rec.logs == result.history  # the history rows, every column (test_trainer_loop)
    assert all(
        {"train_loss", "train_sparsity", "val_loss", "seconds", "lr"} <= set(r) for r in rec.logs
    )
    assert rec.calls[0] == ("start", 0, True) and rec.calls[-1] == ("end", "completed")
    epoch_2 = [c for c in rec.calls if c[0] != "batch" and len(c) > 1 and c[1] == 2]
    assert epoch_2 == [("epoch_start", 2), ("epoch_end", 2)]
    batches = [c for c in rec.calls if c[0] == "batch"]
    assert [(e, s) for _, e, s, _ in batches] == [(e, s) for e in (1, 2, 3) for s in range(1, 7)]
    # 6 steps per epoch, fewer than CHECK_EVERY: the losses are read once, at the last step
    windows = [w for *_, w in batches if w is not None]
    assert [(w.epoch, w.step, w.steps) for w in windows] == [(e, 6, 6) for e in (1, 2, 3)]
    assert all(w.bad is None and math.isfinite(w.running_loss) for w in windows)


def test_request_stop_ends_the_run_after_that_epoch_and_resume_knows(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    # checkpoint_every=4: epoch 2 is saved only because the run stopped there
    cfg = tiny_config(epochs=5, checkpoint_every=4)
    result = train(cfg, run, data=tiny, callbacks=[StopAt(2)])
    assert "stopped after epoch 2: asked at epoch 2" in capsys.readouterr().out
    assert result.status == "stopped" and [r["epoch"] for r in result.history] == [1, 2]
    assert [r["epoch"] for r in read_history(run)] == [1, 2]
    summary = read_metrics(run)["run"]
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 2
    assert is_complete(run)
    state = load_state(state_path(run))
    assert state["epoch"] == 2 and state["stopped"] and state["stop_status"] == "stopped"
    assert state["stop_reason"] == "asked at epoch 2"
    assert read_weights_metadata(weights_path(run, "last"))["epoch"] == "2"

    again = train(cfg, run, data=tiny, resume=True, quiet=True)
    assert again.status == "stopped" and again.history == result.history


def test_builtins_run_before_the_users_callbacks(tiny, tmp_path):
    seen: list[tuple] = []

    class Inspect(Callback):
        def on_train_start(self, trainer):
            seen.append(tuple(type(cb) for cb in trainer.callbacks))

        def on_epoch_end(self, trainer, epoch, logs):
            # the built-ins already selected this epoch and checkpointed it
            saved = load_state(state_path(trainer.run_dir))["epoch"]
            seen.append((epoch, saved, trainer.state.best_epoch))

    user = Inspect()
    cfg = tiny_config(epochs=2, lr=1e-2)
    train(cfg, tmp_path / "run", data=tiny, quiet=True, callbacks=[user])
    builtins = (ProgressCallback, TerminateOnNaN, EarlyStopping, ModelCheckpoint)
    assert seen == [(*builtins, Inspect), (1, 1, 1), (2, 2, 2)]


def test_epoch_state_round_trips_and_reads_older_states():
    state = EpochState(epoch=3, history=[{"epoch": 1}], best_val=0.5, best_epoch=2, stopped=True)
    state.stop_reason, state.stop_status = "why", "stopped"
    assert EpochState.from_state(state.to_state()) == state
    assert "best_weights" not in state.to_state()
    # a state saved before callbacks could stop a run: stopped meant early stopping
    old = {k: v for k, v in state.to_state().items() if not k.startswith("stop_")}
    assert EpochState.from_state(old).status == "early_stopped"
    assert EpochState.from_state(None).status == "completed"


def test_request_stop_takes_only_known_statuses(tiny):
    class Bad(Callback):
        def on_train_start(self, trainer):
            trainer.request_stop("no reason", status="finished")

    with pytest.raises(ConfigError, match="status"):
        train(tiny_config(epochs=1), None, data=tiny, quiet=True, callbacks=[Bad()])
