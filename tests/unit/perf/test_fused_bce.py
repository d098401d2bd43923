"""The fused BCE equals torch's binary_cross_entropy_with_logits (value and gradients)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aelab.layers.fused_bce import bce_with_logits_sum
from aelab.models.base import PIXEL_LOSSES, PIXEL_REDUCTIONS, reconstruction_loss


def data(shape, scale=4.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale, torch.rand(shape, generator=g)


@pytest.mark.parametrize("shape", [(256, 784), (3, 1, 28, 28), (5, 7), (1, 97), (2, 3, 32, 32)])
def test_value_and_gradients_match_torch(shape):
    logits, target = data(shape)
    a = logits.clone().double().requires_grad_()
    ta = target.clone().double().requires_grad_()
    F.binary_cross_entropy_with_logits(a, ta).backward()
    b = logits.clone().requires_grad_()
    tb = target.clone().requires_grad_()
    value = bce_with_logits_sum(b, tb, 1.0 / b.numel())
    value.backward()
    expected = F.binary_cross_entropy_with_logits(a.detach(), ta.detach())
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=2e-6)
    torch.testing.assert_close(b.grad, a.grad.float(), rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(tb.grad, ta.grad.float(), rtol=1e-5, atol=1e-9)


def test_extreme_logits_stay_finite_and_exact():
    logits = torch.tensor([[-200.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 200.0] * 20])
    target = torch.tensor([[0.0, 1.0, 0.5, 0.2, 1.0, 0.0, 1.0] * 20])
    got = bce_with_logits_sum(logits, target, 1.0)
    want = F.binary_cross_entropy_with_logits(logits.double(), target.double(), reduction="sum")
    assert math.isfinite(got.item())
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_non_finite_logits_give_a_non_finite_loss():
    logits, target = data((4, 196))
    logits[1, 5] = float("nan")
    assert math.isnan(bce_with_logits_sum(logits, target, 1.0).item())
    logits[1, 5] = float("inf")
    assert not math.isfinite(bce_with_logits_sum(logits, target, 1.0).item())


def test_half_precision_logits_are_computed_in_float32():
    logits, target = data((8, 196))
    value = bce_with_logits_sum(logits.bfloat16(), target, 1.0 / logits.numel())
    expected = F.binary_cross_entropy_with_logits(logits.bfloat16().float(), target)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)


def test_inference_mode_and_shape_mismatch():
    logits, target = data((4, 98))
    with torch.inference_mode():
        value = bce_with_logits_sum(logits, target, 0.5)
    assert value.item() == pytest.approx(
        0.5 * F.binary_cross_entropy_with_logits(logits, target, reduction="sum").item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="differ in shape"):
        bce_with_logits_sum(logits, target[:2])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_models_reconstruction_loss_keeps_its_meaning(reduction):
    logits, target = data((6, 1, 28, 28))
    per_pixel = PIXEL_LOSSES["bce"](logits.double(), target.double()).flatten(1)
    expected = PIXEL_REDUCTIONS[reduction](per_pixel).mean()
    got = reconstruction_loss(logits, target, "bce", reduction)
    assert got.item() == pytest.approx(expected.item(), rel=2e-6)
