"""Known-answer tests for the losses and regularisers: values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aelab.config import NoiseConfig, SparsityConfig
from aelab.layers.noise import Noise
from aelab.layers.sparsity import KLSparsity, L1Sparsity, TopKSparsity
from aelab.models import DenseConfig, VAEConfig, create_model
from aelab.models.base import reconstruction_loss

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def dense(**fields):
    fields.setdefault("input_shape", (1, 4, 4))
    fields.setdefault("latent_dim", 6)
    return create_model(DenseConfig(**fields))


# --------------------------------------------------------------------------- reconstruction


def test_bce_mean_matches_keras_by_hand():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]], [[[1.0, -2.0], [0.5, 0.0]]]])
    target = torch.tensor([[[[0.0, 1.0], [0.5, 1.0]]], [[[1.0, 0.0], [0.2, 0.9]]]])
    p = 1 / (1 + torch.exp(-logits.double()))
    per_pixel = -(target * torch.log(p) + (1 - target) * torch.log(1 - p))
    # Keras: mean over the pixels of each sample, then over the batch.
    keras = per_pixel.reshape(2, -1).mean(1).mean()
    got = reconstruction_loss(logits, target, "bce", "mean")
    assert float(got) == pytest.approx(float(keras), rel=1e-6)
    summed = per_pixel.reshape(2, -1).sum(1).mean()
    assert float(reconstruction_loss(logits, target, "bce", "sum")) == pytest.approx(
        float(summed), rel=1e-6
    )


def test_mse_reductions_by_hand():
    logits = torch.zeros(2, 1, 1, 2)  # sigmoid -> 0.5 everywhere
    target = torch.tensor([[[[0.0, 1.0]]], [[[0.5, 0.5]]]])
    # per sample squared errors: [0.25, 0.25] and [0, 0]
    assert float(reconstruction_loss(logits, target, "mse", "mean")) == pytest.approx(0.125)
    assert float(reconstruction_loss(logits, target, "mse", "sum")) == pytest.approx(0.25)


# --------------------------------------------------------------------------- sparsity


def test_l1_penalty_by_hand():
    z = torch.tensor([[1.0, -2.0, 0.0], [3.0, 0.0, 0.0]])
    # lambda * mean over the batch of sum_j |z_j| = 0.1 * (3 + 3) / 2
    assert float(L1Sparsity(0.1).penalty(z, z, None)) == pytest.approx(0.3)


def test_l1_model_loss_is_reconstruction_plus_lambda_mean_sum_abs_code():
    torch.manual_seed(0)
    model = dense(sparsity=SparsityConfig(kind="l1", weight=0.01)).eval()
    x = torch.rand(5, 1, 4, 4)
    out = model.loss(x)
    z = model.encode(x)
    expected = 0.01 * z.abs().sum(1).mean()
    assert float(out.parts["sparsity"]) == pytest.approx(float(expected), rel=1e-6)
    rec = reconstruction_loss(model(x), x, "bce", "mean")
    assert float(out.total) == pytest.approx(float(rec + expected), rel=1e-6)


def test_kl_penalty_by_hand_and_zero_at_rho():
    reg = KLSparsity(rho=0.1, weight=2.0)
    z = torch.tensor([[0.2, 0.1], [0.4, 0.1]])  # batch means 0.3 and 0.1
    kl0 = 0.1 * math.log(0.1 / 0.3) + 0.9 * math.log(0.9 / 0.7)
    assert float(reg.penalty(z, z, None)) == pytest.approx(2.0 * kl0, rel=1e-5)
    at_rho = torch.full((4, 3), 0.1)
    assert float(reg.penalty(at_rho, at_rho, None)) == pytest.approx(0.0, abs=1e-7)


def test_kl_sparsity_uses_a_sigmoid_code():
    model = dense(sparsity=SparsityConfig(kind="kl", weight=0.1, rho=0.05))
    assert isinstance(model.encoder[-1], nn.Sigmoid)
    z = model.encode(torch.rand(3, 1, 4, 4))
    assert float(z.min()) > 0 and float(z.max()) < 1


def test_topk_keeps_exactly_k_per_sample():
    torch.manual_seed(0)
    model = dense(latent_dim=10, sparsity=SparsityConfig(kind="topk", k=3))
    z = model.encode(torch.rand(7, 1, 4, 4))
    assert ((z != 0).sum(1) == 3).all()
    h = model.features(torch.rand(7, 1, 4, 4))
    kept = TopKSparsity.keep_topk(h, 3)
    values, index = h.topk(3, dim=1)
    assert torch.equal(kept.gather(1, index), values)
    assert float(kept.scatter(1, index, 0.0).abs().sum()) == 0
    out = model.eval().loss(torch.rand(2, 1, 4, 4))
    assert float(out.stats["l0"]) == 3


def test_topk_aux_loss_trains_dead_units():
    torch.manual_seed(0)
    model = dense(latent_dim=8, sparsity=SparsityConfig(kind="topk", k=2, aux_weight=1.0))
    model.train()
    x = torch.rand(6, 1, 4, 4)
    assert float(model.loss(x).parts["sparsity"]) == 0  # nothing dead yet
    model.sparsity.steps_inactive.fill_(10_000)  # pretend every unit has been silent
    z = model.encode(x)  # marks the units selected now as alive again
    dead = model.sparsity.dead_units()
    assert dead.any() and not dead[(z != 0).any(0)].any()
    model.zero_grad()
    out = model.loss(x)
    assert float(out.parts["sparsity"]) > 0
    out.parts["sparsity"].backward()
    code_layer = model.encoder[1]
    assert float(code_layer.weight.grad[dead].abs().sum()) > 0
    model.eval()
    assert float(model.loss(x).parts["sparsity"]) == 0  # eval: no auxiliary term


def test_topk_tracks_steps_without_firing():
    reg = TopKSparsity(k=1, aux_weight=1.0, latent_dim=3).train()
    for _ in range(3):
        reg(torch.tensor([[5.0, 1.0, 0.0]]))
    assert reg.steps_inactive.tolist() == [0, 3, 3]
    reg.eval()(torch.tensor([[0.0, 9.0, 0.0]]))  # eval does not count
    assert reg.steps_inactive.tolist() == [0, 3, 3]


# --------------------------------------------------------------------------- noise


@pytest.mark.parametrize("kind,level", [("gaussian", 0.5), ("mask", 0.5), ("saltpepper", 0.3)])
def test_noise_only_in_training_and_stays_in_unit_range(kind, level):
    torch.manual_seed(0)
    noise = Noise(NoiseConfig(kind=kind, level=level))
    x = torch.rand(4, 1, 8, 8)
    noisy = noise.train()(x)
    assert not torch.equal(noisy, x)
    assert float(noisy.min()) >= 0 and float(noisy.max()) <= 1
    assert torch.equal(noise.eval()(x), x)
    if kind == "mask":
        assert bool(((noisy == 0) | (noisy == x)).all())
    if kind == "saltpepper":
        assert bool(((noisy == 0) | (noisy == 1) | (noisy == x)).all())


def test_denoising_never_corrupts_the_target():
    torch.manual_seed(0)
    model = dense(noise=NoiseConfig(kind="mask", level=1.0))  # every input pixel dropped
    x = torch.rand(3, 1, 4, 4)
    x_before = x.clone()
    out = model.train().loss(x)
    blank = model.decode(model.encode(torch.zeros_like(x)))
    expected = reconstruction_loss(blank, x, "bce", "mean")  # clean target
    assert float(out.parts["reconstruction"]) == pytest.approx(float(expected), rel=1e-6)
    assert torch.equal(x, x_before)
    clean = reconstruction_loss(model(x), x, "bce", "mean")
    assert float(model.eval().loss(x).total) == pytest.approx(float(clean), rel=1e-6)


# --------------------------------------------------------------------------- VAE


def vae(**fields):
    fields.setdefault("input_shape", (1, 4, 4))
    fields.setdefault("latent_dim", 3)
    fields.setdefault("hidden", (8,))
    return create_model(VAEConfig(**fields))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_vae_kl_matches_closed_form(reduction):
    torch.manual_seed(0)
    model = vae(beta=0.5, loss="mse", reduction=reduction).eval()
    x = torch.rand(5, 1, 4, 4)
    mu, logvar = model.encode_distribution(x)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    closed = torch.distributions.kl_divergence(q, p).sum(1).mean()
    if reduction == "mean":
        closed = closed / 16
    out = model.loss(x)
    assert float(out.parts["kl"]) == pytest.approx(0.5 * float(closed), rel=1e-5)
    assert torch.equal(model.encode(x), mu)


def test_vae_trains_on_samples_and_evaluates_on_the_mean():
    model = vae()
    x = torch.rand(2, 1, 4, 4)
    model.eval()
    assert torch.equal(model.loss(x).total, model.loss(x).total)
    model.train()
    torch.manual_seed(1)
    a = model.loss(x).parts["reconstruction"]
    torch.manual_seed(2)
    b = model.loss(x).parts["reconstruction"]
    assert not torch.equal(a, b)


def test_vae_sample_and_interpolate():
    model = vae(input_shape=(3, 8, 8), encoder="conv", channels=(4,)).eval()
    g = torch.Generator().manual_seed(0)
    s = model.sample(5, generator=g)
    assert s.shape == (5, 3, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1
    s2 = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(s, s2)
    a, b = torch.rand(3, 8, 8), torch.rand(1, 3, 8, 8)
    path = model.interpolate(a, b, steps=4)
    assert path.shape == (4, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(path[0], model.reconstruct(a[None])[0], atol=1e-6)
        assert torch.allclose(path[-1], model.reconstruct(b)[0], atol=1e-6)
