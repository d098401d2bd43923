"""``Autoencoder.from_modules``: two plain nn.Modules as an aelab model (family ``modules``),
with every regulariser, trained by the real trainer, saved and loaded back."""

from __future__ import annotations

import pytest
import torch
from test_model_contract import check_contract
from torch import nn

import aelab
from aelab.config import RunConfig
from aelab.errors import CheckpointError, ConfigError
from aelab.models import ModulesAutoencoder, list_models
from aelab.training import train
from fakedata import tiny_splits

SHAPE = (1, 8, 8)


CODE = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def mlp_pair(latent: int = 6, code: str = "relu") -> tuple[nn.Module, nn.Module]:
    """An MLP pair on 1x8x8 images; ``code``: the code activation (top-k wants a linear
    code, as in Makhzani's k-sparse autoencoder; KL sparsity a sigmoid one)."""
    encoder = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, latent), CODE[code]()
    )
    decoder = nn.Sequential(nn.Linear(latent, 24), nn.ReLU(), nn.Linear(24, 64))
    return encoder, decoder


def conv_pair() -> tuple[nn.Module, nn.Module]:
    """A convolutional code (4, 4, 4) and a decoder that returns (B, 1, 8, 8) logits."""
    encoder = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU())
    decoder = nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1)
    return encoder, decoder


def test_latent_dim_is_inferred_and_the_contract_holds():
    torch.manual_seed(0)
    model = aelab.Autoencoder.from_modules(*mlp_pair(), input_shape=SHAPE)
    assert isinstance(model, ModulesAutoencoder) and model.family == "modules"
    assert "modules" not in list_models()  # a config alone cannot build it
    assert model.latent_dim == 6 and model.config.encoder == "Sequential, 1,710 parameters"
    check_contract(model)


def test_a_convolutional_code_is_flattened_for_the_regularisers():
    model = aelab.Autoencoder.from_modules(
        *conv_pair(), input_shape=SHAPE, sparsity={"kind": "topk", "k": 5}
    )
    assert model.latent_dim == 4 * 4 * 4
    z = model.encode(torch.rand(3, *SHAPE))
    assert z.shape == (3, 64) and ((z != 0).sum(1) == 5).all()
    check_contract(model)


REGULARISERS = {  # name -> (code activation, from_modules arguments)
    "l1": ("relu", dict(sparsity={"kind": "l1", "weight": 1e-3})),
    "kl": ("sigmoid", dict(sparsity={"kind": "kl", "weight": 0.1, "rho": 0.05})),
    "topk": ("linear", dict(sparsity={"kind": "topk", "k": 2})),
    "noise": ("relu", dict(noise={"kind": "gaussian", "level": 0.3})),
}


@pytest.mark.parametrize("name", list(REGULARISERS))
def test_every_regulariser_trains_with_the_real_trainer(name):
    torch.manual_seed(0)
    code, kwargs = REGULARISERS[name]
    model = aelab.Autoencoder.from_modules(*mlp_pair(code=code), input_shape=SHAPE, **kwargs)
    cfg = RunConfig.from_dict({"train": {"epochs": 2, "batch_size": 16, "threads": 1}})
    cfg = RunConfig(model=model.config, train=cfg.train)
    data = tiny_splits(n=64, shape=SHAPE, classes=4, val=16)
    before = [p.detach().clone() for p in model.parameters()]
    result = train(cfg, None, data=data, quiet=True, model=model)
    assert result.model is model  # trained in place
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    row = result.history[-1]
    expected = {"train_loss", "train_reconstruction", "val_loss"}
    if name != "noise":
        expected.add("train_sparsity")
    assert expected <= set(row)
    assert model.regularizer == (name if name != "noise" else "noise:gaussian")
    if name == "topk":
        with torch.no_grad():
            z = model.eval().encode(torch.rand(10, *SHAPE))
        assert ((z != 0).sum(1) == 2).all()


def test_kl_sparsity_needs_a_code_in_0_1():
    with pytest.raises(ConfigError, match=r"end the encoder with nn.Sigmoid\(\)"):
        aelab.Autoencoder.from_modules(
            *mlp_pair(code="linear"), input_shape=SHAPE, sparsity={"kind": "kl", "weight": 0.1}
        )


@pytest.mark.parametrize(
    ("pair", "kwargs", "message"),
    [
        (
            (nn.Linear(64, 4), nn.Linear(4, 64)),
            {},
            r"start an MLP encoder with nn.Flatten\(\)",
        ),
        (
            (
                nn.Sequential(nn.Flatten(), nn.Linear(64, 4)),
                nn.Sequential(nn.Linear(4, 64), nn.Sigmoid()),
            ),
            {},
            "drop the final nn.Sigmoid",
        ),
        (
            (nn.Sequential(nn.Flatten(), nn.Linear(64, 4)), nn.Linear(4, 32)),
            {},
            r"expected logits \(2, 1, 8, 8\) or \(2, 64\)",
        ),
        (
            (nn.Sequential(nn.Flatten(), nn.Linear(64, 4)), nn.Linear(4, 64)),
            {"latent_dim": 5},
            "latent_dim=5 does not match the encoder, whose code has 4 values",
        ),
    ],
    ids=["unflattened-mlp", "sigmoid-decoder", "wrong-output", "wrong-latent"],
)
def test_mistakes_are_one_clear_line(pair, kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        aelab.Autoencoder.from_modules(*pair, input_shape=SHAPE, **kwargs)
    assert "\n" not in str(info.value)


def test_a_run_loads_back_only_into_the_same_modules(tmp_path):
    torch.manual_seed(0)
    model = aelab.Autoencoder.from_modules(*mlp_pair(), input_shape=SHAPE)
    cfg = RunConfig(model=model.config)
    cfg = cfg.with_values({"train.epochs": 1, "train.batch_size": 16, "train.threads": 1})
    data = tiny_splits(n=48, shape=SHAPE, classes=4, val=16)
    train(cfg, tmp_path / "run", data=data, quiet=True, model=model)
    with pytest.raises(ConfigError, match=r"model=aelab.Autoencoder.from_modules\(encoder"):
        aelab.load(tmp_path / "run")
    loaded = aelab.load(
        tmp_path / "run", model=aelab.Autoencoder.from_modules(*mlp_pair(), input_shape=SHAPE)
    )
    x = data.test.images
    assert loaded.reconstruct(x) == pytest.approx(
        aelab.load(tmp_path / "run", model=model).reconstruct(x), abs=1e-6
    )
    encoder, _ = mlp_pair()
    other = aelab.Autoencoder.from_modules(encoder, nn.Linear(6, 64), input_shape=SHAPE)
    with pytest.raises(CheckpointError, match="pass the same encoder and decoder"):
        aelab.load(tmp_path / "run", model=other)
