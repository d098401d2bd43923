"""What the code looks like: activity per unit, L0, dead units, Hoyer sparsity, VAE KL.

All statistics are computed on the codes of a whole split (normally the test split), as
``(N, latent_dim)`` arrays. Their definitions are in ``aelab.metrics.catalog``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ACTIVE_THRESHOLD = 1e-6  # a unit is active on an image when |z_j| > this
KL_ACTIVE_THRESHOLD = 0.01  # a VAE dimension is active when its mean KL > this (nats)
TSNE_MAX_POINTS = 3000  # t-SNE is quadratic-ish: embed at most this many codes


def hoyer(codes: np.ndarray) -> np.ndarray:
    """Hoyer sparsity of each row of ``codes`` (N, n) -> (N,) in [0, 1]."""
    codes = np.abs(np.asarray(codes, dtype=np.float64))
    n = codes.shape[1]
    if n == 1:
        return np.ones(len(codes))
    l1 = codes.sum(axis=1)
    l2 = np.sqrt((codes**2).sum(axis=1))
    zero = l2 == 0
    ratio = np.divide(l1, l2, out=np.ones_like(l1), where=~zero)
    out = (np.sqrt(n) - ratio) / (np.sqrt(n) - 1)
    return np.clip(out, 0.0, 1.0)


def code_statistics(codes: np.ndarray, *, threshold: float = ACTIVE_THRESHOLD) -> dict[str, Any]:
    """Statistics of ``codes`` (N, latent_dim): see the catalog's "code" section. JSON-ready."""
    codes = np.asarray(codes, dtype=np.float64)
    active = np.abs(codes) > threshold
    dead = int((~active.any(axis=0)).sum())
    return {
        "latent_dim": int(codes.shape[1]),
        "mean_l0": float(active.sum(axis=1).mean()),
        "dead_units": dead,
        "dead_fraction": dead / codes.shape[1],
        "hoyer": float(hoyer(codes).mean()),
        "mean_activation": np.abs(codes).mean(axis=0).tolist(),
        "threshold": threshold,
    }


def kl_statistics(
    mu: np.ndarray, logvar: np.ndarray, *, threshold: float = KL_ACTIVE_THRESHOLD
) -> dict[str, Any]:
    """KL to the standard normal prior per dimension and the count of active dimensions."""
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)
    per_dim = kl.mean(axis=0)
    return {"kl_per_dim": per_dim.tolist(), "active_dims": int((per_dim > threshold).sum())}


class PCA2D:
    """The first two principal axes of a set of codes, by NumPy's SVD of the centred codes
    (scikit-learn's PCA(2) without whitening, signs fixed as its ``svd_flip`` fixes them:
    each axis's largest-magnitude weight positive). Evaluation draws its code maps with it,
    so a run whose PCA baseline is cached never imports scikit-learn (about 0.9 s)."""

    def __init__(self, codes: np.ndarray) -> None:
        x = np.asarray(codes, dtype=np.float64)
        self.mean_ = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        vt = vt[:2]
        signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
        self.components_ = vt * np.where(signs == 0, 1.0, signs)[:, None]

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """(N, d) codes -> (N, 2) points."""
        return ((np.asarray(codes, dtype=np.float64) - self.mean_) @ self.components_.T).astype(
            np.float32
        )

    def inverse_transform(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) points -> (N, d) codes on the plane of the two axes."""
        return (np.asarray(points, dtype=np.float64) @ self.components_ + self.mean_).astype(
            np.float32
        )


def project_2d(codes: np.ndarray, *, method: str = "pca", seed: int = 0) -> np.ndarray:
    """A 2-D map of ``codes`` (N, d): PCA, or t-SNE (on at most ``TSNE_MAX_POINTS`` rows)."""
    codes = np.asarray(codes, dtype=np.float32)
    if codes.shape[1] == 1:
        return np.concatenate([codes, np.zeros_like(codes)], axis=1)
    if method not in ("pca", "tsne"):
        raise ValueError(f"unknown projection {method!r}: expected 'pca' or 'tsne'")
    if len(codes) and np.ptp(codes, axis=0).max() == 0:
        # every code is the same (e.g. all units of a ReLU code dead): one point, no axes
        return np.zeros((len(codes), 2), dtype=np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        codes = codes[:TSNE_MAX_POINTS]
        perplexity = float(min(30, max(2, (len(codes) - 1) // 3)))
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)
    return PCA2D(codes).transform(codes)


def top_activating(codes: np.ndarray, k: int) -> np.ndarray:
    """Indices (latent_dim, k) of the ``k`` rows with the largest activation of each unit."""
    codes = np.asarray(codes)
    k = min(k, len(codes))
    return np.argsort(-codes, axis=0, kind="stable")[:k].T
