"""Never lose work: resume, refusing to clobber a run, Ctrl-C, NaN losses."""

from __future__ import annotations

import pytest
import torch
from training_doubles import FAULTS, tiny_config

from aelab.config import RunConfig
from aelab.errors import CheckpointError, TrainingError
from aelab.rundir import is_complete, read_history, read_metrics
from aelab.studies.runner import RunState, run_state
from aelab.training import load_run, train
from aelab.training.checkpoint import load_state, state_path


def losses(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_resume_continues_exactly(tiny, tmp_path):
    """2 epochs, then resumed to 4 == 4 uninterrupted epochs, bit for bit (noise included)."""
    noisy = ["model.noise.kind=gaussian", "model.noise.level=0.1"]
    cfg4 = tiny_config(epochs=4, lr=1e-2).override(noisy)
    full = train(cfg4, tmp_path / "full", data=tiny, quiet=True)
    cfg2 = cfg4.override(["train.epochs=2"])
    train(cfg2, tmp_path / "run", data=tiny, quiet=True)
    resumed = train(cfg4, tmp_path / "run", data=tiny, resume=True, quiet=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert losses(resumed.history) == losses(full.history)
    assert losses(read_history(tmp_path / "run")) == losses(full.history)
    assert read_metrics(tmp_path / "run")["run"]["epochs_completed"] == 4
    # config.toml now describes the 4-epoch run: a sweep sees it trained, not to resume
    assert RunConfig.load(tmp_path / "run" / "config.toml").train.epochs == 4
    assert (
        run_state(tmp_path / "run", cfg4) is RunState.EVALUATE
    )  # trained; train() does not evaluate


def test_resume_of_a_finished_run_does_nothing(tiny, tmp_path):
    cfg = tiny_config(epochs=2)
    first = train(cfg, tmp_path / "run", data=tiny, quiet=True)
    again = train(cfg, tmp_path / "run", data=tiny, resume=True, quiet=True)
    assert losses(again.history) == losses(first.history)


def test_refuses_an_existing_run_unless_resume_or_overwrite(tiny, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(epochs=1), run, data=tiny, quiet=True)
    with pytest.raises(CheckpointError, match=r"already holds a run.*--resume.*--overwrite"):
        train(tiny_config(epochs=1, seed=5), run, data=tiny, quiet=True)
    with pytest.raises(CheckpointError, match=r"holds a different run.*train.seed"):
        train(tiny_config(epochs=1, seed=5), run, data=tiny, resume=True, quiet=True)
    (run / "figures").mkdir()
    (run / "notes.txt").write_text("mine")
    result = train(tiny_config(epochs=1, seed=5), run, data=tiny, overwrite=True, quiet=True)
    assert result.config.train.seed == 5
    assert not (run / "figures").exists()  # old run artifacts are gone ...
    assert (run / "notes.txt").read_text() == "mine"  # ... other files are not touched


def test_refuses_a_foreign_non_empty_folder(tiny, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CheckpointError, match="not empty"):
        train(tiny_config(epochs=1), tmp_path, data=tiny, quiet=True)


def test_resume_needs_a_run(tiny, tmp_path):
    with pytest.raises(CheckpointError, match="holds no run"):
        train(tiny_config(epochs=1), tmp_path / "nothing", data=tiny, resume=True, quiet=True)


def test_resume_with_no_checkpoint_yet_starts_over(tiny, tmp_path, faulty_family):
    """Killed during epoch 1: config.toml exists but no state; resume trains from scratch."""
    cfg = tiny_config(faulty_family, epochs=2)
    FAULTS["interrupt_at"] = 2
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", data=tiny, quiet=True)
    assert not state_path(tmp_path / "run").exists()
    FAULTS["interrupt_at"] = 0
    result = train(cfg, tmp_path / "run", data=tiny, resume=True, quiet=True)
    assert len(result.history) == 2


def test_keyboard_interrupt_keeps_the_last_epoch_and_resumes(tiny, tmp_path, faulty_family):
    cfg = tiny_config(faulty_family, epochs=3)  # 6 steps per epoch
    full = train(cfg, None, data=tiny, quiet=True)
    FAULTS["interrupt_at"] = 9
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", data=tiny, quiet=True)
    assert load_state(state_path(tmp_path / "run"))["epoch"] == 1
    assert read_metrics(tmp_path / "run")["run"]["status"] == "interrupted"
    assert not is_complete(tmp_path / "run")
    assert len(read_history(tmp_path / "run")) == 1
    FAULTS["interrupt_at"] = 0
    result = train(cfg, tmp_path / "run", data=tiny, resume=True, quiet=True)
    assert losses(result.history) == losses(full.history)


def test_nan_loss_stops_with_epoch_step_and_part(tiny, tmp_path, faulty_family, capsys):
    cfg = tiny_config(faulty_family, epochs=3)
    FAULTS["nan_at"] = 9  # epoch 2, step 3
    with pytest.raises(TrainingError) as info:
        train(cfg, tmp_path / "run", data=tiny, quiet=True)
    message = str(info.value)
    assert "epoch 2, step 3/6" in message and "'sparsity'" in message and "nan" in message
    assert "last good checkpoint (epoch 1)" in message
    state = load_state(state_path(tmp_path / "run"))
    assert state["epoch"] == 1
    model, _ = load_run(tmp_path / "run", checkpoint="last")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert read_metrics(tmp_path / "run")["run"]["status"] == "diverged"


def test_nan_in_memory_says_no_checkpoint(tiny, faulty_family):
    cfg = tiny_config(faulty_family, epochs=1)
    FAULTS["nan_at"] = 1
    with pytest.raises(TrainingError, match=r"epoch 1, step 1/6.*no checkpoint was written"):
        train(cfg, None, data=tiny, quiet=True)
