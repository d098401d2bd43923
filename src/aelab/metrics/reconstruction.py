"""Reconstruction quality on a split: BCE, MSE, MAE, PSNR and SSIM per image, then averaged.

PSNR and SSIM come from torchmetrics (not hand-rolled). Every number is computed per image
and averaged over the images, so a batch size never changes a result. The wording the
report prints next to each number is the metric catalog's (``aelab.metrics.catalog``).

A perfect reconstruction has infinite PSNR. JSON has no infinity, so results carry
``psnr=None`` plus ``psnr_infinite=True`` in that case; the report shows "inf".
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from aelab.data.splits import is_image

BCE_EPS = 1e-7  # predictions are clamped to [eps, 1 - eps] before the log, as Keras does
SSIM_KERNEL = 11  # Gaussian window of SSIM (torchmetrics' default); smaller for tiny images
# The scores every sample gets (SSIM only for images); catalog entries describe each one.
SCORES = ("bce", "mse", "mae", "psnr")


def ssim_kernel_size(height: int, width: int) -> int:
    """SSIM's window: 11, or the largest odd size that fits a smaller image."""
    size = min(SSIM_KERNEL, height, width)
    return size if size % 2 == 1 else size - 1


def image_scores(recon: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Per-image scores of ``recon`` against ``target``, both (B, C, H, W) in [0, 1].

    Returns ``{"bce", "mse", "mae", "psnr", "ssim"}``, each a float tensor of shape (B,); no
    ``ssim`` for samples that are not images (feature vectors (B, 1, 1, D)).
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    recon = recon.float().clamp(0.0, 1.0)
    target = target.float()
    dims = tuple(range(1, recon.ndim))
    p = recon.clamp(BCE_EPS, 1.0 - BCE_EPS)
    bce = F.binary_cross_entropy(p, target, reduction="none").mean(dim=dims)
    mse = (recon - target).pow(2).mean(dim=dims)
    mae = (recon - target).abs().mean(dim=dims)
    psnr = peak_signal_noise_ratio(recon, target, data_range=1.0, reduction="none", dim=dims)
    if not is_image(tuple(recon.shape[1:])):  # SSIM is defined on images only
        return {"bce": bce, "mse": mse, "mae": mae, "psnr": psnr}
    return {"bce": bce, "mse": mse, "mae": mae, "psnr": psnr, "ssim": per_image_ssim(recon, target)}


def per_image_ssim(recon: Tensor, target: Tensor) -> Tensor:
    """torchmetrics' SSIM of each image, (B, C, H, W) -> (B,): the mean of its SSIM map.

    The images go in as the channels of ONE sample, so torchmetrics' Gaussian filter runs as
    a depthwise convolution over B*C channels: the same numbers (each channel is filtered
    alone either way) about five times faster on CPU than B single-channel samples, whose
    (5B, 1, H, W) convolution dominated evaluation."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    b, c, h, w = recon.shape
    _, full = structural_similarity_index_measure(
        recon.reshape(1, b * c, h, w),
        target.reshape(1, b * c, h, w),
        data_range=1.0,
        reduction="none",
        kernel_size=ssim_kernel_size(h, w),
        return_full_image=True,
    )
    return full.reshape(b, -1).mean(dim=1)


def finite_or_none(value: float) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    return float(value) if math.isfinite(value) else None


class ReconstructionScores:
    """Accumulates per-image scores over batches; ``result()`` gives the averages."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = dict.fromkeys(SCORES, 0.0)
        self.n_images = 0
        self.n_perfect = 0  # images with infinite PSNR

    def update(self, recon: Tensor, target: Tensor) -> None:
        scores = image_scores(recon, target)
        psnr = scores["psnr"]
        perfect = torch.isinf(psnr)
        self.n_perfect += int(perfect.sum())
        scores["psnr"] = psnr.masked_fill(perfect, 0.0)
        for key, value in scores.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value.double().sum())
        self.n_images += len(recon)

    def result(self) -> dict[str, Any]:
        """``{bce, mse, psnr, psnr_infinite, ssim, n_images}``, JSON-safe; ``ssim`` is None
        for data that is not images."""
        n = max(self.n_images, 1)
        out: dict[str, Any] = {key: value / n for key, value in self.sums.items()}
        out.setdefault("ssim", None)
        out["psnr_infinite"] = self.n_perfect > 0
        if self.n_perfect:
            out["psnr"] = None
        out["n_images"] = self.n_images
        return out
