"""Family specifics: architectures matching the references, config validation, input checks."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from aelab.config import ModelConfig, RunConfig, SparsityConfig
from aelab.errors import ConfigError, DataError
from aelab.models import (
    ConvConfig,
    DenseConfig,
    LSTMConfig,
    VAEConfig,
    config_class,
    create_model,
    list_models,
    register_model,
)
from aelab.models.base import Autoencoder
from aelab.models.summary import layer_rows, summary

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

MNIST = (1, 28, 28)


# --------------------------------------------------------------------------- registry


def test_registry_rejects_duplicate_names():
    with pytest.raises(ValueError, match="already registered"):
        register_model("dense", DenseConfig)(type("Again", (Autoencoder,), {}))


def test_registry_suggests_the_closest_family():
    with pytest.raises(ConfigError, match="Did you mean 'dense'"):
        config_class("dens")
    with pytest.raises(ConfigError, match="known families: conv, dense"):
        create_model(ModelConfig(family="nope", input_shape=MNIST))


def test_registry_accepts_a_test_double():
    @register_model("test-identity", ModelConfig)
    class Identity(Autoencoder):
        def __init__(self, config: ModelConfig) -> None:
            super().__init__(config)
            self.encoder = nn.Flatten()
            self.decoder = nn.Unflatten(1, self.input_shape)

    assert "test-identity" in list_models()
    model = create_model(ModelConfig(family="test-identity", latent_dim=4, input_shape=(1, 2, 2)))
    assert isinstance(model, Identity) and model.family == "test-identity"


def test_unknown_config_key_is_an_error_with_did_you_mean():
    with pytest.raises(ConfigError, match="Did you mean 'hidden'"):
        RunConfig.from_dict({"model": {"family": "dense", "hiden": [64]}})
    cfg = RunConfig.from_dict({"model": {"family": "conv", "channels": [8]}})
    assert isinstance(cfg.model, ConvConfig) and cfg.model.channels == (8,)


# --------------------------------------------------------------------------- dense


def test_r1_dense_parameter_count_matches_keras():
    model = create_model(DenseConfig(latent_dim=32, input_shape=MNIST))
    assert model.num_parameters() == 784 * 32 + 32 + 32 * 784 + 784 == 50_992
    assert model.describe() == "dense 784-32-784"


def test_tied_decoder_reuses_transposed_encoder_weights():
    cfg = DenseConfig(hidden=(16,), latent_dim=4, input_shape=MNIST, tied=True)
    model = create_model(cfg)
    # encoder weights + encoder biases + decoder biases only
    assert model.num_parameters() == (784 * 16 + 16 * 4) + (16 + 4) + (16 + 784)
    first_decoder = model.decoder[0]
    assert first_decoder(torch.eye(4)).shape == (4, 16)
    assert torch.equal(first_decoder(torch.eye(4)) - first_decoder.bias, model.encoder[3].weight)
    assert "(tied)" in model.describe()
    assert set(model.state_dict()) == {n for n, _ in model.named_parameters()}


def test_identity_code_activation_is_linear():
    model = create_model(DenseConfig(latent_dim=4, code_activation="identity", input_shape=MNIST))
    assert isinstance(model.encoder[-1], nn.Linear)


# --------------------------------------------------------------------------- conv


@pytest.mark.filterwarnings("ignore:latent_dim=1568")
def test_r4_cnn_layers_and_code():
    cfg = ConvConfig(
        channels=(16, 32),
        downsample="pool",
        upsample="transpose",
        bottleneck=False,
        latent_dim=1568,
        input_shape=MNIST,
    )
    model = create_model(cfg)
    kinds = [type(m).__name__ for m in model.encoder]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten"]
    assert model.num_parameters() == (16 * 9 + 16) + (16 * 32 * 9 + 32) + (32 * 16 * 9 + 16) + (
        16 * 9 + 1
    )
    assert model.encode(torch.rand(2, *MNIST)).shape == (2, 1568)


@pytest.mark.parametrize("down", ["stride", "pool"])
@pytest.mark.parametrize("up", ["transpose", "upsample"])
def test_conv_variants_on_32x32_rgb(down, up):
    cfg = ConvConfig(
        channels=(4, 8, 8), downsample=down, upsample=up, latent_dim=5, input_shape=(3, 32, 32)
    )
    model = create_model(cfg)
    x = torch.rand(2, 3, 32, 32)
    assert model.reconstruct(x).shape == x.shape


def test_conv_depth_adds_size_keeping_convs_to_every_block():
    shallow = create_model(ConvConfig(channels=(4, 8), latent_dim=5, input_shape=MNIST))
    cfg = ConvConfig(channels=(4, 8), depth=3, latent_dim=5, input_shape=MNIST)
    model = create_model(cfg)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (1, 4, 2),
        (4, 4, 1),
        (4, 4, 1),
        (4, 8, 2),
        (8, 8, 1),
        (8, 8, 1),
    ]
    extra = 2 * (4 * 4 * 9 + 4) + 2 * (8 * 8 * 9 + 8)  # per side: two more convs per block
    assert model.num_parameters() == shallow.num_parameters() + 2 * extra
    x = torch.rand(2, *MNIST)
    assert model.encode(x).shape == (2, 5) and model.reconstruct(x).shape == x.shape
    assert "channels 4-8 x3" in model.describe()
    with pytest.raises(ConfigError, match="depth"):
        ConvConfig(channels=(4, 8), depth=0, latent_dim=5, input_shape=MNIST)


# --------------------------------------------------------------------------- lstm


def test_r4_rnn_layers_and_output_mapping():
    cfg = LSTMConfig(hidden=128, latent="hidden", output="lstm", latent_dim=128, input_shape=MNIST)
    model = create_model(cfg)
    assert (model.encoder.input_size, model.encoder.hidden_size) == (28, 128)
    assert (model.decoder.input_size, model.decoder.hidden_size) == (128, 28)
    assert model.num_parameters() == 4 * 128 * (28 + 128 + 2) + 4 * 28 * (128 + 28 + 2)
    z = torch.randn(2, 128)
    with torch.no_grad():
        y, _ = model.decoder(z.unsqueeze(1).expand(-1, 28, -1))
        pixels = torch.sigmoid(model.decode(z))
    # the decoder LSTM's output y in (-1, 1) is read as the pixel (1 + y) / 2
    assert torch.allclose(pixels[:, 0], (1 + y) / 2, atol=1e-5)


def test_lstm_rows_are_the_sequence():
    model = create_model(LSTMConfig(hidden=8, latent_dim=4, input_shape=(3, 5, 7)))
    assert model.encoder.input_size == 3 * 7 and model.steps == 5
    x = torch.rand(2, 3, 5, 7)
    assert model(x).shape == x.shape


# --------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda: ConvConfig(input_shape=(1, 1, 784)), "input_shape"),
        (lambda: ConvConfig(channels=(8, 8, 8), input_shape=(1, 28, 28)), "divisible by 8"),
        (lambda: ConvConfig(kernel=4), "kernel"),
        (lambda: ConvConfig(kernel=9, channels=(4, 4), input_shape=(1, 16, 16)), "kernel"),
        (lambda: ConvConfig(bottleneck=False, latent_dim=10, input_shape=MNIST), "latent_dim"),
        (lambda: ConvConfig(downsample="avg"), "downsample"),
        (lambda: DenseConfig(latent_dim=4, sparsity=SparsityConfig(kind="topk", k=5)), "k"),
        (lambda: DenseConfig(sparsity=SparsityConfig(kind="l1", weight=-1.0)), "weight"),
        (lambda: DenseConfig(sparsity=SparsityConfig(kind="kl", rho=1.5)), "rho"),
        (
            lambda: DenseConfig(code_activation="relu", sparsity=SparsityConfig(kind="kl")),
            "code_activation",
        ),
        (lambda: DenseConfig(activation="rellu"), "Did you mean 'relu'"),
        (lambda: DenseConfig(hidden=(0,)), "hidden"),
        (lambda: VAEConfig(sparsity=SparsityConfig(kind="l1", weight=1e-5)), "sparsity.kind"),
        (lambda: VAEConfig(beta=-1.0), "beta"),
        (lambda: VAEConfig(encoder="conv", input_shape=(1, 1, 784)), "input_shape"),
        (lambda: LSTMConfig(latent="hidden", hidden=16, latent_dim=8), "latent_dim"),
        (
            lambda: LSTMConfig(latent="hidden", hidden=8, latent_dim=8, code_activation="relu"),
            "code_activation",
        ),
    ],
)
def test_impossible_configs_fail_naming_the_field(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def test_overcomplete_unregularised_code_warns():
    with pytest.warns(UserWarning, match="identity map"):
        DenseConfig(latent_dim=16, input_shape=(1, 4, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DenseConfig(latent_dim=16, input_shape=(1, 4, 4), sparsity=SparsityConfig(kind="l1"))
        DenseConfig(latent_dim=16, input_shape=(1, 4, 4), overcomplete=True)  # said on purpose


def test_overcomplete_warning_names_the_callers_line_once():
    """Built directly, through dataclasses.replace and through create_model, the warning
    points at this file (not dataclasses.py or aelab) and the default filter shows it once."""
    cfg = DenseConfig(latent_dim=16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for _ in range(2):
            create_model(dataclasses.replace(cfg, input_shape=(1, 4, 4)))  # one line, twice
    messages = [w for w in caught if "identity map" in str(w.message)]
    assert [Path(w.filename).name for w in messages] == [Path(__file__).name]


def test_missing_input_shape_is_a_config_error():
    with pytest.raises(ConfigError, match="input_shape"):
        create_model(DenseConfig())


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "x,hint",
    [
        (torch.rand(2, 3, 28, 28), r"\(B, 1, 28, 28\)"),
        (torch.rand(2, 784), "x.view"),
        (torch.rand(1, 28, 28), "unsqueeze"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "255"),
        (torch.rand(2, 1, 32, 32), "found float32"),
    ],
)
@pytest.mark.parametrize("family", ["dense", "conv", "lstm", "vae"])
def test_wrong_input_shape_names_the_expected_shape(family, x, hint):
    model = create_model(config_class(family)(latent_dim=8, input_shape=MNIST))
    with pytest.raises(DataError, match=hint):
        model.encode(x)
    with pytest.raises(DataError, match="expects float images"):
        model.loss(x)


# --------------------------------------------------------------------------- summary


def test_summary_lists_layers_shapes_and_totals():
    model = create_model(
        DenseConfig(
            latent_dim=32, input_shape=MNIST, sparsity=SparsityConfig(kind="l1", weight=1e-5)
        )
    )
    rows = layer_rows(model)
    linear = [r for r in rows if r.kind == "Linear"]
    assert [(r.output_shape, r.params) for r in linear] == [
        ((None, 32), 25_120),
        ((None, 784), 25_872),
    ]
    text = summary(model, "r1")
    assert "Total params: 50,992" in text and "(None, 1, 28, 28)" in text
    assert "l1 sparsity 1e-05" in text


def test_summary_includes_both_vae_heads():
    model = create_model(VAEConfig(latent_dim=4, hidden=(8,), input_shape=(1, 4, 4)))
    names = [r.name for r in layer_rows(model)]
    assert "mu" in names and "logvar" in names
    assert model.training  # mode restored
