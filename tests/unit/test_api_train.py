"""``aelab.train`` for notebooks and scripts: a Run with model, history, metrics and run
directory; families registered from Python; models wrapped from plain modules."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import aelab
from aelab.config import RunConfig
from aelab.errors import AelabError, ConfigError
from aelab.models.registry import family_distribution
from fakedata import tiny_splits

SHAPE = (1, 8, 8)
SMALL = {"epochs": 2, "batch_size": 16, "threads": 1, "model__latent_dim": 4}


@pytest.fixture(scope="module")
def data():
    return tiny_splits(n=80, shape=SHAPE, classes=4, val=16)


@dataclass(frozen=True)
class LinearConfig(aelab.ModelConfig):
    """A family defined in user code: one linear layer each way, optionally tied."""

    family: str = "test-api-linear"
    bias: bool = True


@aelab.register_model("test-api-linear", LinearConfig)
class LinearAutoencoder(aelab.Autoencoder):
    def __init__(self, config: LinearConfig) -> None:
        super().__init__(config)
        pixels = int(np.prod(self.input_shape))
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, config.latent_dim, config.bias)
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, pixels, config.bias), nn.Unflatten(1, self.input_shape)
        )
        self.init_weights()


def test_train_a_preset_returns_a_run(data, tmp_path):
    run = aelab.train("r1-fashion-sparse", data=data, out=tmp_path / "r1", progress=False, **SMALL)
    assert isinstance(run, aelab.Run) and run.status == "completed"
    assert run.run_dir == tmp_path / "r1" and (run.run_dir / "report.html").exists()
    assert list(run.history["epoch"]) == [1, 2]
    assert run.history["val_loss"].shape == (2,) and np.isfinite(run.history["train_loss"]).all()
    assert run.model.latent_dim == 4 and not run.model.training
    rec = run.metrics["reconstruction"]
    assert 0 < rec["mse"] < 0.2 and run.metrics["run"]["epochs_completed"] == 2
    text = repr(run)
    assert text.startswith("Run(model=dense 64-4-64, l1 sparsity") and "epochs=2" in text
    assert f"test mse={rec['mse']:.4f}" in text
    html = run._repr_html_()
    assert "<table>" in html and "test mse" in html and str(run.run_dir) in html
    loaded = aelab.load(run.run_dir)
    assert "TrainedModel" in loaded._repr_html_() and "64-4-64" in loaded._repr_html_()


def test_a_family_registered_in_python_trains_and_loads(data, tmp_path):
    cfg = RunConfig(model=LinearConfig(bias=False, latent_dim=3))
    run = aelab.train(
        cfg, data=data, out=tmp_path / "lin", evaluate=False, progress=False, epochs=1
    )
    assert run.model.family == "test-api-linear" and "reconstruction" not in run.metrics
    assert family_distribution("test-api-linear") is None  # not from an installed package
    loaded = aelab.load(run.run_dir)
    x = data.test.images[:5]
    assert loaded.encode(x).shape == (5, 3)
    # A fresh process without this code: one line saying the family is not registered.
    env = os.environ | {"PYTHONPATH": str(Path(aelab.__file__).parents[1])}
    code = f"import aelab; aelab.load({str(run.run_dir)!r})"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 1 and "model family 'test-api-linear'" in last
    assert "registered by code outside an installed package" in last


def test_train_wrapped_modules_in_place_and_evaluate(data, tmp_path):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 8))
    decoder = nn.Linear(8, 64)
    model = aelab.Autoencoder.from_modules(
        encoder, decoder, input_shape=SHAPE, sparsity={"kind": "topk", "k": 3}
    )
    before = encoder[1].weight.detach().clone()
    run = aelab.train(
        model=model, data=data, out=tmp_path / "mod", progress=False, epochs=2, batch_size=16
    )
    assert run.model is model and not torch.equal(before, encoder[1].weight)
    assert run.config.model.family == "modules" and run.metrics["code"]["mean_l0"] <= 3
    assert {"train_sparsity", "val_loss"} <= set(run.history.columns)
    with pytest.raises(ConfigError, match=r"wraps your own nn\.Modules"):
        aelab.load(run.run_dir)
    with pytest.raises(ConfigError, match="cannot change a model passed with model="):
        aelab.train(model=model, data=data, out=tmp_path / "x", model__loss="mse")


def test_overrides_and_inputs_are_checked_before_training(data, tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'epochs'"):
        aelab.train("r1-fashion-sparse", data=data, out=tmp_path / "a", epoch=2)
    with pytest.raises((TypeError, AelabError), match=r"unknown dataset .not a dataset."):
        aelab.train("r1-fashion-sparse", data="not a dataset", out=tmp_path / "b")
    with pytest.raises(TypeError, match="expected a RunConfig, a preset name"):
        aelab.train(42)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
