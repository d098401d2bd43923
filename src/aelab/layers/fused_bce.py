"""Binary cross-entropy on logits, reduced to one scalar, in few passes over the pixels.

``F.binary_cross_entropy_with_logits`` on CPU costs about as much as the two matrix
products of a 784-32-784 autoencoder: its forward runs ``log_sigmoid`` (an ``exp`` and a
``log1p`` per pixel, neither vectorised well) and its backward recomputes the sigmoid.
This version computes the same value with one sigmoid per pixel and no per-pixel
logarithm, and keeps the gradient it needs from the forward pass:

    bce(l, t) = softplus(l) - t * l,       softplus(l) = relu(l) - log(sigmoid(|l|))

``sigmoid(|l|) = 0.5 + |sigmoid(l) - 0.5|`` lies in [0.5, 1], so the logarithms are
summed as the logarithm of products of ``CHUNK`` factors (each product >= 2**-CHUNK, far
from float32 underflow): one ``log`` per ``CHUNK`` pixels. The gradient is
``(sigmoid(l) - t) * scale``, computed in the same forward pass.

Measured on the 2-core build machine (1 thread, batch 256 x 784): forward and backward
about 0.25 ms against 0.55 ms for ``binary_cross_entropy_with_logits``. The value agrees
with it to float32 rounding (relative 1e-6); the gradient is the same formula. Half
precision inputs (autocast) are computed in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

# Factors per product: 0.5**98 ~ 3e-30 stays a normal float32 (min ~1.2e-38).
CHUNK = 98


def bce_with_logits_sum(logits: Tensor, target: Tensor, scale: float = 1.0) -> Tensor:
    """``scale * sum(bce_with_logits(logits, target))`` as a 0-d tensor (differentiable in
    ``logits`` and ``target``). ``scale = 1 / numel`` gives the mean over all pixels."""
    if logits.shape != target.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in shape"
        )
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    if target.dtype != logits.dtype:
        target = target.to(logits.dtype)
    return _FusedBCE.apply(logits, target, float(scale))


def sum_log_half_to_one(q: Tensor) -> Tensor:
    """``sum(log(q))`` for ``q`` in [0.5, 1] (contiguous): one log per ``CHUNK`` values."""
    flat = q.reshape(-1)
    m = flat.numel() // CHUNK * CHUNK
    total = flat[m:].log().sum()
    if m:
        total = total + flat[:m].view(CHUNK, -1).prod(0).log_().sum()
    return total


class _FusedBCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, logits: Tensor, target: Tensor, scale: float) -> Tensor:
        logits, target = logits.contiguous(), target.contiguous()
        p = torch.sigmoid(logits)
        q = (p - 0.5).abs_().add_(0.5)  # sigmoid(|logits|), in [0.5, 1]
        flat_l, flat_t = logits.reshape(-1), target.reshape(-1)
        total = logits.clamp_min(0).sum() - sum_log_half_to_one(q) - torch.dot(flat_l, flat_t)
        needs = ctx.needs_input_grad  # type: ignore[attr-defined]
        if needs[0]:
            ctx.save_for_backward(p.sub_(target).mul_(scale))  # d total / d logits
        if needs[1]:
            ctx.neg_scaled_logits = logits * -scale  # type: ignore[attr-defined]
        return total * scale

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        needs = ctx.needs_input_grad  # type: ignore[attr-defined]
        grad_logits = ctx.saved_tensors[0] * grad if needs[0] else None  # type: ignore[attr-defined]
        grad_target = ctx.neg_scaled_logits * grad if needs[1] else None  # type: ignore[attr-defined]
        return grad_logits, grad_target, None
