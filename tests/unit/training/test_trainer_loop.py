"""The training loop on tiny in-memory data: history, run directory, determinism,
early stopping, schedules, best checkpoint."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from training_doubles import tiny_config

from aelab.config import RunConfig
from aelab.rundir import is_complete, read_history, read_metrics
from aelab.training import load_run, train
from aelab.training.checkpoint import state_path

TIMING = {"seconds"}
RUN_TIMING = {"wall_time_s", "images_per_s", "finished_at"}


def strip(rows, keys=TIMING):
    return [{k: v for k, v in row.items() if k not in keys} for row in rows]


def test_in_memory_training_learns_and_writes_nothing(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train(tiny_config(lr=1e-2, epochs=4), None, data=tiny, quiet=True)
    assert list(tmp_path.iterdir()) == []
    assert result.run_dir is None
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert list(result.history[0]) == [
        "epoch",
        "train_loss",
        "train_reconstruction",
        "train_sparsity",
        "val_loss",
        "val_reconstruction",
        "val_sparsity",
        "seconds",
        "lr",
    ]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert not result.model.training
    assert result.images_per_s > 0
    # the caller's RNG is left alone: training forks it
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny_config(epochs=1), None, data=tiny, quiet=True)
    assert torch.equal(torch.rand(3), expected)


def test_run_directory_layout(tiny, tmp_path):
    run = tmp_path / "run"
    result = train(tiny_config(), run, data=tiny, quiet=True)
    assert (run / "config.toml").exists()
    assert RunConfig.load(run / "config.toml").model.input_shape == (1, 8, 8)
    for name in ("last.safetensors", "best.safetensors", "last.state.pt"):
        assert (run / "checkpoints" / name).exists()
    state = torch.load(state_path(run), weights_only=True)
    assert state["epoch"] == 3 and state["family"] == "dense" and "optimizer" in state
    history = read_history(run)
    assert history == strip(history, set()) and len(history) == 3
    assert history == result.history  # floats round-trip bit for bit through the CSV
    with open(run / "history.csv") as f:
        assert next(csv.reader(f))[0] == "epoch"
    run_section = read_metrics(run)["run"]
    keys = (
        "name preset dataset family regularizer latent_dim parameters epochs epochs_completed "
        "wall_time_s images_per_s device threads aelab_version torch_version git_commit "
        "machine finished_at final_train_loss final_val_loss"
    )
    for key in keys.split():
        assert key in run_section, key
    assert run_section["epochs_completed"] == 3 and run_section["parameters"] == 1096
    assert run_section["final_val_loss"] == history[-1]["val_loss"]
    assert is_complete(run)
    model, config = load_run(run, checkpoint="last")
    assert not model.training and config.model.input_shape == (1, 8, 8)
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), result.model(x))


def test_same_seed_same_history_and_metrics_bit_for_bit(tiny, tmp_path):
    cfg = tiny_config(epochs=2)
    a = train(cfg, tmp_path / "a", data=tiny, quiet=True)
    b = train(cfg, tmp_path / "b", data=tiny, quiet=True)
    assert strip(a.history) == strip(b.history)
    ra = {k: v for k, v in read_metrics(tmp_path / "a")["run"].items() if k not in RUN_TIMING}
    rb = {k: v for k, v in read_metrics(tmp_path / "b")["run"].items() if k not in RUN_TIMING}
    ra.pop("name"), rb.pop("name")
    assert ra == rb

    # history.csv minus the timing column, byte for byte
    def csv_rows(run):
        with open(run / "history.csv") as f:
            rows = list(csv.reader(f))
        i = rows[0].index("seconds")
        return [r[:i] + r[i + 1 :] for r in rows]

    assert csv_rows(tmp_path / "a") == csv_rows(tmp_path / "b")
    c = train(tiny_config(epochs=2, seed=1), None, data=tiny, quiet=True)
    assert strip(c.history) != strip(a.history)


def test_early_stopping_and_best_checkpoint(tiny, tmp_path):
    # min_delta larger than any change: epoch 1 sets the best, epoch 2 fails -> stop.
    cfg = tiny_config(epochs=6, early_stopping=1, min_delta=10.0)
    result = train(cfg, tmp_path / "run", data=tiny, quiet=True)
    assert result.status == "early_stopped" and len(result.history) == 2
    assert result.best_epoch == 1
    run = read_metrics(tmp_path / "run")["run"]
    assert run["status"] == "early_stopped" and run["epochs_completed"] == 2
    assert is_complete(tmp_path / "run")
    best, _ = load_run(tmp_path / "run")
    last, _ = load_run(tmp_path / "run", checkpoint="last")
    assert not torch.equal(best.state_dict()["decoder.0.bias"], last.state_dict()["decoder.0.bias"])


def test_restore_best_returns_the_best_weights(tiny, tmp_path):
    cfg = tiny_config(epochs=3, lr=1e-2, restore_best=True, min_delta=10.0)
    result = train(cfg, tmp_path / "run", data=tiny, quiet=True)
    best, _ = load_run(tmp_path / "run", checkpoint="best")
    for key, value in best.state_dict().items():
        assert torch.equal(value, result.model.state_dict()[key])


def test_test_set_as_validation_never_selects_a_model(tiny, tmp_path):
    cfg = tiny_config(epochs=2).override(["data.validation=test"])
    train(cfg, tmp_path / "run", data=tiny, quiet=True)
    assert not (tmp_path / "run/checkpoints/best.safetensors").exists()
    model, _ = load_run(tmp_path / "run")  # "best" falls back to "last"
    assert model is not None


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("none", [1e-2, 1e-2, 1e-2, 1e-2]),
        ("step", [1e-2, 1e-2, 1e-3, 1e-3]),
        ("cosine", [1e-2 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]),
    ],
)
def test_schedules(tiny, schedule, expected):
    cfg = tiny_config(epochs=4, lr=1e-2, schedule=schedule, step_size=2, gamma=0.1)
    result = train(cfg, None, data=tiny, quiet=True)
    assert [r["lr"] for r in result.history] == pytest.approx(expected)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_other_optimizers_train(tiny, optimizer):
    result = train(tiny_config(epochs=2, optimizer=optimizer, lr=0.05), None, data=tiny, quiet=True)
    assert all(math.isfinite(r["train_loss"]) for r in result.history)


def test_no_validation(tiny):
    from dataclasses import replace

    data = replace(tiny, val=None)
    result = train(tiny_config(epochs=1), None, data=data, quiet=True)
    assert "val_loss" not in result.history[0]


def test_metrics_json_is_valid_json(tiny, tmp_path):
    train(tiny_config(epochs=1), tmp_path / "run", data=tiny, quiet=True)
    json.loads((tmp_path / "run/metrics.json").read_text())
