"""Reconstruction metrics against hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from aelab.evaluation.evaluate import reconstruction_metrics
from aelab.metrics.catalog import section_metrics
from aelab.metrics.reconstruction import (
    ReconstructionScores,
    image_scores,
    ssim_kernel_size,
)
from aelab.models.base import LossOutput


class Identity(nn.Module):
    """A perfect autoencoder whose loss is the mean pixel value (easy to check)."""

    def reconstruct(self, x):
        return x.clone()

    def loss(self, x):
        return LossOutput(total=x.mean(), parts={"reconstruction": x.mean()})


def binary_images(n=6, shape=(1, 8, 8), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2, (n, *shape)) * 255).astype(np.uint8)


def test_identity_reconstruction_is_perfect_and_json_safe():
    images = binary_images()
    out = reconstruction_metrics(Identity(), images, batch_size=4)
    assert out["mse"] == 0.0 and out["mae"] == 0.0
    assert out["psnr"] is None and out["psnr_infinite"] is True
    assert out["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert 0 < out["bce"] < 2e-7  # -log(1 - eps): the clamp's floor, in float32
    assert out["n_images"] == 6
    assert out["loss"] == pytest.approx(images.mean() / 255.0, rel=1e-6)
    json.dumps(out, allow_nan=False)


def test_constant_half_prediction_matches_hand_computation():
    target = torch.from_numpy(binary_images()).float() / 255
    scores = image_scores(torch.full_like(target, 0.5), target)
    assert torch.allclose(scores["mse"], torch.full((6,), 0.25))
    assert torch.allclose(scores["mae"], torch.full((6,), 0.5))
    assert torch.allclose(scores["psnr"], torch.full((6,), 10 * math.log10(4)), atol=1e-4)
    assert torch.allclose(scores["bce"], torch.full((6,), math.log(2)), atol=1e-6)


def test_scores_are_per_image_means_independent_of_batching():
    rng = np.random.default_rng(1)
    target = torch.from_numpy(rng.random((10, 3, 8, 8)).astype(np.float32))
    recon = (target + 0.1 * torch.from_numpy(rng.standard_normal((10, 3, 8, 8)))).float()
    whole, parts = ReconstructionScores(), ReconstructionScores()
    whole.update(recon, target)
    for i in range(0, 10, 3):
        parts.update(recon[i : i + 3], target[i : i + 3])
    a, b = whole.result(), parts.result()
    for key in ("bce", "mse", "psnr", "ssim"):
        assert a[key] == pytest.approx(b[key], rel=1e-6)
    per_image_psnr = image_scores(recon, target)["psnr"].mean().item()
    assert a["psnr"] == pytest.approx(per_image_psnr, rel=1e-6)


def test_one_perfect_image_makes_psnr_infinite():
    target = torch.rand(3, 1, 8, 8)
    recon = target.clone()
    recon[1:] = 0.5
    scores = ReconstructionScores()
    scores.update(recon, target)
    out = scores.result()
    assert out["psnr"] is None and out["psnr_infinite"]
    assert out["mse"] > 0


def test_ssim_window_fits_small_images():
    assert ssim_kernel_size(28, 28) == 11
    assert ssim_kernel_size(8, 8) == 7
    assert ssim_kernel_size(6, 9) == 5


def test_every_metric_has_a_definition():
    paths = {m.path: m.definition for m in section_metrics("reconstruction")}
    for key in ("loss", "bce", "mse", "mae", "psnr", "ssim"):
        assert len(paths[f"reconstruction.{key}"]) > 20


@pytest.mark.parametrize("shape", [(7, 1, 28, 28), (5, 3, 12, 10), (3, 1, 8, 8)])
def test_per_image_ssim_equals_torchmetrics_per_sample(shape):
    """The batch-as-channels layout gives torchmetrics' own per-image SSIM."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    from aelab.metrics.reconstruction import per_image_ssim

    g = torch.Generator().manual_seed(0)
    target = torch.rand(shape, generator=g)
    recon = (target + 0.2 * torch.randn(shape, generator=g)).clamp(0, 1)
    expected = structural_similarity_index_measure(
        recon, target, data_range=1.0, reduction="none",
        kernel_size=ssim_kernel_size(*shape[-2:]),
    )  # fmt: skip
    torch.testing.assert_close(per_image_ssim(recon, target), expected, atol=1e-5, rtol=1e-5)
