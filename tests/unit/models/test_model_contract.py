"""The Autoencoder contract, parametrized over every registered family and every preset,
so a new family or preset is tested the moment it exists."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from aelab.api import build_model
from aelab.config import NoiseConfig, SparsityConfig
from aelab.errors import ConfigError
from aelab.models import config_class, create_model, list_models
from aelab.models.base import LossOutput
from aelab.presets import list_presets, load_preset

# Test doubles registered by other tests are named tiny-* / test-*.
FAMILIES = [f for f in list_models() if not f.startswith(("tiny-", "test-"))]
SHAPES = [(1, 28, 28), (3, 16, 16)]


def small_model(family: str, shape: tuple[int, int, int], **fields):
    cfg = config_class(family)(latent_dim=8, input_shape=shape, **fields)
    assert cfg.family == family
    return create_model(cfg)


def check_forward(model, x: torch.Tensor) -> None:
    batch = x.shape[0]
    z = model.encode(x)
    assert z.shape == (batch, model.latent_dim)
    assert model.decode(z).shape == (batch, *model.input_shape)
    assert model(x).shape == (batch, *model.input_shape)
    r = model.reconstruct(x)
    assert r.shape == x.shape and float(r.min()) >= 0 and float(r.max()) <= 1


def check_contract(model, batch: int = 3) -> LossOutput:
    torch.manual_seed(0)
    x = torch.rand(batch, *model.input_shape)
    model.eval()
    with torch.no_grad():
        check_forward(model, x)
    model.train()
    out = model.loss(x)
    assert out.total.dim() == 0 and torch.isfinite(out.total)
    assert "reconstruction" in out.parts
    for value in [*out.parts.values(), *out.stats.values()]:
        assert value.dim() == 0 and torch.isfinite(value)
    assert torch.allclose(out.total, sum(out.parts.values()))
    model.zero_grad()
    out.total.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)
    assert isinstance(model.describe(), str) and model.describe().startswith(model.family)
    assert model.regularizer == "none" or model.regularizer
    return out


def test_every_family_is_registered():
    assert {"dense", "conv", "lstm", "vae"} <= set(FAMILIES)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("family", FAMILIES)
def test_family_contract(family, shape):
    model = small_model(family, shape)
    check_contract(model)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_keras_init_zero_biases(family):
    model = small_model(family, (1, 16, 16), init="keras")
    for name, p in model.named_parameters():
        if "bias_ih" in name:  # LSTM: Keras' unit_forget_bias (gate order i, f, g, o)
            gates = p.detach().chunk(4)
            assert all(float(g.abs().max()) == 0 for i, g in enumerate(gates) if i != 1)
            assert bool((gates[1] == 1).all()), name
        elif "bias" in name:
            assert float(p.detach().abs().max()) == 0, name
        if name.endswith("weight") and p.dim() == 2 and "weight_hh" not in name:
            fan_out, fan_in = p.shape
            assert float(p.detach().abs().max()) <= math.sqrt(6 / (fan_in + fan_out)) + 1e-6, name


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "vae"])
@pytest.mark.parametrize(
    "sparsity",
    [{"kind": "l1", "weight": 1e-3}, {"kind": "kl", "weight": 0.1}, {"kind": "topk", "k": 3}],
    ids=lambda s: s["kind"],
)
def test_family_with_each_regularizer(family, sparsity, shape):
    model = small_model(
        family,
        shape,
        sparsity=SparsityConfig(**sparsity),
        noise=NoiseConfig(kind="gaussian", level=0.2),
    )
    out = check_contract(model)
    assert "sparsity" in out.parts
    assert model.regularizer == f"{sparsity['kind']}+noise:gaussian"


@pytest.mark.parametrize("kind", ["gaussian", "mask", "saltpepper"])
def test_vae_with_input_noise(kind):
    model = small_model("vae", (1, 16, 16), noise=NoiseConfig(kind=kind, level=0.3))
    out = check_contract(model)
    assert set(out.parts) == {"reconstruction", "kl"}
    assert model.regularizer == f"kl-prior+noise:{kind}"


def test_vae_names_its_prior_as_regularizer():
    assert small_model("vae", (1, 16, 16)).regularizer == "kl-prior"
    assert small_model("vae", (1, 16, 16), beta=0.0).regularizer == "none"


# --------------------------------------------------------------------------- abilities


@pytest.mark.parametrize("family", FAMILIES)
def test_the_config_names_the_regularizer_without_a_model(family):
    """Comparisons read the regulariser from config.toml: the config and the model agree."""
    noise = NoiseConfig(kind="mask", level=0.2)
    for fields in ({}, {"noise": noise}):
        model = small_model(family, (1, 16, 16), **fields)
        assert model.regularizer == model.config.regularizer
    assert model.config.regularizer.endswith("noise:mask")


@pytest.mark.parametrize("family", FAMILIES)
def test_code_distribution_ability(family):
    model = small_model(family, (1, 16, 16)).eval()
    x = torch.rand(3, *model.input_shape)
    assert isinstance(model.has_code_distribution, bool)
    if not model.has_code_distribution:
        with pytest.raises(ConfigError, match=f"family '{family}' has no distribution"):
            model.encode_distribution(x)
        return
    with torch.no_grad():
        mu, logvar = model.encode_distribution(x)
        assert mu.shape == logvar.shape == (3, model.latent_dim)
        assert torch.equal(mu, model.encode(x))  # the code is the posterior mean


@pytest.mark.parametrize("family", FAMILIES)
def test_generative_ability(family):
    model = small_model(family, (1, 16, 16)).eval()
    a, b = torch.rand(2, *model.input_shape)
    assert isinstance(model.is_generative, bool)
    if not model.is_generative:
        with pytest.raises(ConfigError, match=f"family '{family}' has no prior"):
            model.sample(2)
        with pytest.raises(ConfigError, match=f"family '{family}' has no prior"):
            model.interpolate(a, b)
        return
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, *model.input_shape)
    assert float(samples.min()) >= 0 and float(samples.max()) <= 1  # pixels, not logits
    frames = model.interpolate(a, b, steps=4)
    assert frames.shape == (4, *model.input_shape)
    assert float(frames.min()) >= 0 and float(frames.max()) <= 1
    with torch.no_grad():
        assert torch.allclose(frames[0], model.reconstruct(a[None])[0], atol=1e-6)


def test_the_vae_has_both_abilities_and_the_others_neither():
    assert small_model("vae", (1, 16, 16)).has_code_distribution
    assert small_model("vae", (1, 16, 16)).is_generative
    assert not small_model("dense", (1, 16, 16)).is_generative
    assert not small_model("dense", (1, 16, 16)).has_code_distribution


@pytest.mark.parametrize("name", list_presets())
def test_preset_builds_and_one_step_lowers_the_loss(name):
    cfg = load_preset(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R4's CNN has an over-complete code on purpose
        model = build_model(cfg)
    torch.manual_seed(0)
    x = torch.rand(4, *model.input_shape)
    check_contract(model, batch=2)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    model.eval()
    with torch.no_grad():
        before = float(model.loss(x).total)
    model.train()
    opt.zero_grad()
    model.loss(x).total.backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        after = float(model.loss(x).total)
    assert after < before
