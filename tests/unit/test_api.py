"""The Python API: build_model and R5's autoencoder() factory."""

from __future__ import annotations

import pytest
import torch

import aelab
from aelab.api import KNOWN_SHAPES, build_model, dataset_shape
from aelab.config import DataConfig, RunConfig
from aelab.errors import ConfigError
from aelab.models import DenseConfig, autoencoder

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def test_build_model_from_run_config_fills_the_shape_from_the_dataset():
    cfg = RunConfig.from_dict({"data": {"dataset": "cifar10"}, "model": {"family": "dense"}})
    model = aelab.build_model(cfg)
    assert model.input_shape == KNOWN_SHAPES["cifar10"] == (3, 32, 32)


def test_build_model_from_model_config_needs_a_shape():
    with pytest.raises(ConfigError, match="input_shape"):
        build_model(DenseConfig())
    assert build_model(DenseConfig(), input_shape=(1, 8, 8)).input_shape == (1, 8, 8)


def test_build_model_from_a_preset_name():
    assert build_model("r1-fashion-sparse").num_parameters() == 50_992


def test_dataset_shape_follows_resizing_and_mode():
    assert dataset_shape(DataConfig(dataset="folder:/x", image_size=(32, 32), mode="RGB")) == (
        3,
        32,
        32,
    )
    assert dataset_shape(DataConfig(dataset="folder:/x")) is None
    assert dataset_shape(DataConfig(dataset="folder:/x", image_size=(8, 8), mode="L")) == (1, 8, 8)


def test_autoencoder_has_r5_semantics():
    torch.manual_seed(0)
    encoder, decoder, auto = autoencoder(48, [24, 12], 6, 1e-3)
    x = torch.rand(5, 48)
    z = encoder(x)
    assert z.shape == (5, 6) and float(z.min()) >= 0  # ReLU latent
    y = decoder(z)
    assert y.shape == (5, 48) and float(y.min()) >= 0 and float(y.max()) <= 1
    assert torch.allclose(auto(x), y)
    out = auto.loss(x)
    bce = torch.nn.functional.binary_cross_entropy(y, x, reduction="none").mean(1).mean()
    l1 = 1e-3 * z.abs().sum(1).mean()
    assert float(out.total) == pytest.approx(float(bce + l1), rel=1e-5)
    # one set of weights: training auto trains the encoder and the decoder
    assert {id(p) for p in auto.parameters()} == {
        id(p) for p in [*encoder.parameters(), *decoder.parameters()]
    }
    n = 48 * 24 + 24 + 24 * 12 + 12 + 12 * 6 + 6 + 6 * 12 + 12 + 12 * 24 + 24 + 24 * 48 + 48
    assert sum(p.numel() for p in auto.parameters()) == n
    opt = torch.optim.Adam(auto.parameters(), lr=1e-2)
    before = encoder(x).detach().clone()
    auto.loss(x).total.backward()
    opt.step()
    assert not torch.equal(encoder(x), before)


def test_autoencoder_without_lambtha_has_no_penalty():
    _, _, auto = autoencoder(16, [], 4, 0)
    assert set(auto.loss(torch.rand(2, 16)).parts) == {"reconstruction"}
