"""What the interactive code map needs, computed once by the evaluation.

:func:`build_code_map` projects the test codes to 2-D (:func:`fit_projection`: PCA by
default, UMAP with the ``aelab[umap]`` extra, t-SNE), reconstructs every test image for its
error and thumbnail, and packs both thumbnail kinds into one sprite sheet each; the report
and ``aelab explore`` read the result (:mod:`aelab.report.interactive`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from aelab.errors import ConfigError, check_choice
from aelab.metrics import code
from aelab.models.apply import reconstruct_images
from aelab.models.base import Autoencoder
from aelab.report.interactive import CodeMapData
from aelab.viz.interactive import SpriteLayout, sprite_sheet

PROJECTIONS = ("pca", "umap", "tsne")
PROJECTION_NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
UMAP_EXTRA = "umap-learn is not installed: a UMAP code map needs it; pip install 'aelab[umap]'."


@dataclass
class Projection:
    """A fitted 2-D projection of codes. ``transform`` places new codes (PCA, UMAP);
    ``inverse`` maps 2-D points back to codes (PCA exactly, UMAP approximately); t-SNE
    has neither (None)."""

    method: str
    points: np.ndarray
    model: Any = None

    @property
    def name(self) -> str:
        return PROJECTION_NAMES[self.method]

    @property
    def can_transform(self) -> bool:
        return self.method in ("pca", "umap") and self.model is not None

    def transform(self, codes: np.ndarray) -> np.ndarray:
        if self.method == "pca" and self.model is None:  # 1-D code, or all codes equal
            return np.zeros((len(codes), 2), dtype=np.float32)
        return np.asarray(self.model.transform(codes), dtype=np.float32)

    def inverse(self, points: np.ndarray) -> np.ndarray:
        if not self.can_transform:
            raise ConfigError(
                f"a {self.name} map cannot be decoded point by point: use a PCA or UMAP map."
            )
        return np.asarray(self.model.inverse_transform(points), dtype=np.float32)


def fit_projection(codes: np.ndarray, method: str = "pca", *, seed: int = 0) -> Projection:
    """Project ``codes`` (N, d) to 2-D with ``method`` (pca, umap, tsne)."""
    check_choice("projection", method, PROJECTIONS)
    codes = np.asarray(codes, dtype=np.float32)
    flat = len(codes) == 0 or codes.shape[1] < 2 or np.ptp(codes, axis=0).max() == 0
    if method == "pca" or flat:
        if flat:
            return Projection("pca", code.project_2d(codes, method="pca", seed=seed))
        pca = code.PCA2D(codes)
        return Projection("pca", pca.transform(codes), pca)
    if method == "umap":
        if importlib.util.find_spec("umap") is None:
            raise ConfigError(UMAP_EXTRA)
        import umap

        reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=15)
        points = reducer.fit_transform(codes)
        return Projection("umap", np.asarray(points, dtype=np.float32), reducer)
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(codes) - 1) // 3)))
    tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed)
    return Projection("tsne", tsne.fit_transform(codes).astype(np.float32))


def as_uint8(images: np.ndarray) -> np.ndarray:
    """Images (N, C, H, W) uint8, or floats in [0, 1] -> uint8."""
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def build_code_map(
    model: Autoencoder,
    images: np.ndarray,
    labels: np.ndarray | None,
    codes: np.ndarray,
    *,
    class_names: tuple[str, ...] | None = None,
    projection: str = "pca",
    thumbnails: bool = True,
    batch_size: int = 1024,
    device: str = "cpu",
    seed: int = 0,
) -> CodeMapData:
    """The code map of ``images`` (N, C, H, W) uint8 with their ``codes`` (N, d):
    2-D points, per-image MSE, code activity and (``thumbnails``) the two sprite sheets."""
    recon = reconstruct_images(model, images, batch_size=batch_size, device=device)
    pixels = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images
    error = ((recon - pixels) ** 2).reshape(len(images), -1).mean(axis=1)
    fitted = fit_projection(codes, projection, seed=seed)
    sprites = {}
    c, h, w = images.shape[1:]
    if thumbnails and c in (1, 3):
        layout = SpriteLayout.for_images(len(images), h, w)
        sprites = {
            "originals": sprite_sheet(as_uint8(images), layout),
            "reconstructions": sprite_sheet(as_uint8(recon), layout),
        }
    return CodeMapData(
        points=fitted.points,
        codes=np.asarray(codes, dtype=np.float32),
        error=error.astype(np.float32),
        labels=None if labels is None else np.asarray(labels, dtype=np.int64),
        activity=np.abs(codes).mean(axis=1).astype(np.float32),
        active=(np.abs(codes) > code.ACTIVE_THRESHOLD).sum(axis=1).astype(np.int32),
        projection=fitted.name,
        image_shape=(int(c), int(h), int(w)),
        class_names=class_names,
        sprites=sprites,
    )


__all__ = ["PROJECTIONS", "Projection", "as_uint8", "build_code_map", "fit_projection"]
