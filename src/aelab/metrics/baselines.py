"""The PCA baseline: the optimal linear autoencoder at the same code size.

PCA (scikit-learn) is fitted on the training split and scored on the test split with the
same per-image metrics as the autoencoder (:mod:`aelab.metrics.reconstruction`), so every
report says how much better, or not, the autoencoder is than the best linear map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aelab.metrics.cache import cache_path, content_key, library_version, read_cached, write_cached
from aelab.metrics.reconstruction import SCORES, ReconstructionScores, finite_or_none

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.decomposition import PCA

# Data streamed from a torch Dataset or DataLoader is not held in memory: its PCA baseline is
# fitted on this many training samples (stated in metrics.json as pca.fit_images).
PCA_FIT_SAMPLES = 10_000


def as_float_images(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, ...) uint8 (0..255) or float in [0, 1] -> (N, D) float32 in [0, 1]."""
    array = np.asarray(images)
    flat = array.reshape(len(array), -1)
    if array.dtype == np.uint8:
        return flat.astype(np.float32) / 255.0
    return flat.astype(np.float32, copy=False)


def fit_pca(train_images: np.ndarray, n_components: int, *, seed: int = 0) -> PCA:
    """PCA of ``train_images`` (N, C, H, W) with at most ``n_components`` components
    (never more than min(N, pixels))."""
    from sklearn.decomposition import PCA  # lazily: a cached baseline never needs it

    x = as_float_images(train_images)
    n = max(1, min(n_components, *x.shape))
    return PCA(n_components=n, random_state=seed).fit(x)


def pca_reconstruct(pca: PCA, images: np.ndarray) -> np.ndarray:
    """Project ``images`` (N, C, H, W) and map back: (N, C, H, W) float32, not clipped."""
    x = as_float_images(images)
    recon = pca.inverse_transform(pca.transform(x)).astype(np.float32)
    return recon.reshape(np.asarray(images).shape)


class PCAScores:
    """The PCA baseline's scores accumulated batch by batch: ``update`` with test batches
    (uint8 or float in [0, 1], as numpy or tensors), ``result`` for :func:`pca_scores`'s
    dictionary. Data streamed in batches is scored in the same pass as the autoencoder."""

    def __init__(self, pca: PCA) -> None:
        self.pca = pca
        self.scores = ReconstructionScores()
        self.unclipped = 0.0

    def update(self, batch: np.ndarray | torch.Tensor) -> None:
        if isinstance(batch, torch.Tensor):
            batch = batch.detach().cpu().numpy()
        target = torch.from_numpy(as_float_images(batch).reshape(np.asarray(batch).shape))
        recon = torch.from_numpy(pca_reconstruct(self.pca, batch))
        self.unclipped += float((recon - target).double().pow(2).flatten(1).mean(1).sum())
        self.scores.update(recon.clamp(0.0, 1.0), target)

    def result(self) -> dict[str, Any]:
        out = self.scores.result()
        n = out.pop("n_images")
        return {
            "latent_dim": int(self.pca.n_components_),
            **out,
            "mse_unclipped": self.unclipped / max(n, 1),
        }


def pca_scores(
    train_images: np.ndarray,
    test_images: np.ndarray,
    latent_dim: int,
    *,
    seed: int = 0,
    batch_size: int = 1024,
) -> dict[str, Any]:
    """``{latent_dim, mse, mse_unclipped, bce, psnr, psnr_infinite, ssim}`` of a PCA fitted
    on ``train_images``, scored on ``test_images`` (uint8 or float in [0, 1]): what depends
    on the data alone (cacheable); :func:`with_ratio` adds the autoencoder's ratio."""
    scores = PCAScores(fit_pca(train_images, latent_dim, seed=seed))
    for start in range(0, len(test_images), batch_size):
        scores.update(test_images[start : start + batch_size])
    return scores.result()


def with_ratio(
    scores: dict[str, Any], latent_dim: int, pixels: int, ae_mse: float | None
) -> dict[str, Any]:
    """``scores`` (of :func:`pca_scores` at ``latent_dim``) plus ``mse_ratio`` = ``ae_mse`` /
    PCA's MSE, or None with ``mse_ratio_note`` when the code is as wide as the image."""
    result = {**scores, "mse_ratio": None}
    if latent_dim >= pixels:
        result["mse_ratio_note"] = (
            f"code size {latent_dim} >= {pixels} pixels: PCA reconstructs (almost) exactly, "
            "so the ratio is not meaningful"
        )
    elif ae_mse is not None and scores["mse"] > 0:
        result["mse_ratio"] = finite_or_none(ae_mse / scores["mse"])
    return result


def pca_baseline(
    train_images: np.ndarray,
    test_images: np.ndarray,
    latent_dim: int,
    *,
    ae_mse: float | None = None,
    seed: int = 0,
    batch_size: int = 1024,
) -> dict[str, Any]:
    """``{latent_dim, mse, mse_unclipped, bce, psnr, psnr_infinite, ssim, mse_ratio}`` of a
    PCA fitted on ``train_images``, scored on ``test_images`` (uint8 or float in [0, 1]).

    When ``latent_dim`` >= the number of pixels, PCA is (numerically) the identity and
    ``mse_ratio`` is ``None`` with ``mse_ratio_note`` giving the reason."""
    scores = pca_scores(train_images, test_images, latent_dim, seed=seed, batch_size=batch_size)
    pixels = int(np.prod(np.asarray(test_images).shape[1:]))
    return with_ratio(scores, latent_dim, pixels, ae_mse)


def cached_pca_scores(
    dataset: str,
    train_images: np.ndarray,
    test_images: np.ndarray,
    latent_dim: int,
    *,
    seed: int = 0,
    cache: bool = True,
) -> dict[str, Any]:
    """:func:`pca_scores`, from (and into) the user's baseline cache
    (:mod:`aelab.metrics.cache`, keyed by both splits' images, the code size, the seed and
    scikit-learn's version): every run of a dataset at a code size shares one PCA fit."""
    if not cache:
        return pca_scores(train_images, test_images, latent_dim, seed=seed)
    settings = {
        "baseline": "pca-reconstruction",
        "latent_dim": latent_dim,
        "seed": seed,
        "sklearn": library_version("scikit-learn"),
    }
    key = content_key((train_images, test_images), settings)
    path = cache_path(dataset, key, f"pca-recon{latent_dim}")
    # a cached result from before a score was added is stale: computed again
    scores = read_cached(path, lambda s: isinstance(s, dict) and {*SCORES, "latent_dim"} <= set(s))
    if scores is None:
        scores = pca_scores(train_images, test_images, latent_dim, seed=seed)
        write_cached(path, scores, lambda msg: None, settings=settings)
    return scores
