"""Apply a model to numpy arrays in batches: the one model-to-numpy path.

Images are (N, C, H, W), uint8 pixels (0-255) or floats in [0, 1]; codes are
(N, latent_dim). ``encode_images``, ``reconstruct_images``, ``decode_codes`` and
``encode_distributions`` run without gradients, in order, ``batch_size`` rows at a time on
``device``, and return float32 numpy arrays. Evaluation, comparisons,
:class:`aelab.reuse.inference.TrainedModel` and the scikit-learn estimator all batch through
``image_batches`` / ``row_batches`` and ``map_batches``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from aelab.models.base import Autoencoder

ArrayLike = np.ndarray | Tensor


def as_tensor(x: ArrayLike) -> Tensor:
    """``x`` as a tensor without a copy (read-only numpy arrays are fine: batches only read)."""
    if isinstance(x, Tensor):
        return x
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(x))


def image_batches(
    images: ArrayLike,
    batch_size: int,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Iterator[Tensor]:
    """``dtype`` (B, C, H, W) batches of ``images``, in order: integer pixels (0-255) are
    divided by 255, floats and booleans are taken as they are."""
    for start in range(0, len(images), batch_size):
        batch = as_tensor(images[start : start + batch_size]).to(device).contiguous()
        pixels = not batch.is_floating_point() and batch.dtype != torch.bool
        yield batch.to(dtype).div_(255.0) if pixels else batch.to(dtype)


def row_batches(
    rows: ArrayLike,
    batch_size: int,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Iterator[Tensor]:
    """``dtype`` batches of the rows of ``rows`` (codes, or features already scaled), in
    order; values are only cast."""
    for start in range(0, len(rows), batch_size):
        yield as_tensor(rows[start : start + batch_size]).to(device).to(dtype)


@torch.inference_mode()
def map_batches(fn: Callable[[Tensor], Tensor], batches: Iterator[Tensor]) -> Tensor:
    """``fn`` applied to every batch without gradients, concatenated (on the batches' device)."""
    return torch.cat([fn(batch) for batch in batches])


def _numpy(t: Tensor) -> np.ndarray:
    return t.float().cpu().numpy()


def encode_images(
    model: Autoencoder,
    images: ArrayLike,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Codes of ``images`` (N, C, H, W) -> (N, latent_dim) float32 (the VAE gives mu)."""
    return _numpy(map_batches(model.encode, image_batches(images, batch_size, device)))


def reconstruct_images(
    model: Autoencoder,
    images: ArrayLike,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Reconstructions of ``images`` (N, C, H, W) -> (N, C, H, W) float32 in [0, 1]."""
    return _numpy(map_batches(model.reconstruct, image_batches(images, batch_size, device)))


def decode_codes(
    model: Autoencoder,
    codes: ArrayLike,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Codes (N, latent_dim) -> decoded images (N, C, H, W) float32 in [0, 1]."""
    pixels = map_batches(
        lambda z: torch.sigmoid(model.decode(z)), row_batches(codes, batch_size, device)
    )
    return _numpy(pixels)


def encode_distributions(
    model: Autoencoder,
    images: ArrayLike,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors q(z|x) of ``images`` as (mu, logvar), each (N, latent_dim) float32; only for
    models with ``has_code_distribution``."""
    both = map_batches(
        lambda x: torch.cat(model.encode_distribution(x), dim=1),
        image_batches(images, batch_size, device),
    )
    both = _numpy(both)
    return both[:, : model.latent_dim], both[:, model.latent_dim :]
