"""N2D: cluster the manifold of the learned codes (McConville, Santos-Rodriguez, Piechocki
and Craddock, "N2D: (Not Too) Deep Clustering via Clustering the Local Manifold of an
Autoencoded Embedding", ICPR 2020).

The autoencoder is trained as usual; UMAP (umap-learn) then finds the local manifold of the
codes in a few dimensions (the number of clusters by default), and a Gaussian mixture
(scikit-learn, full covariances) clusters that embedding. The paper's settings are the
defaults: ``n_neighbors=20``, ``min_dist=0``, euclidean, embedding size = clusters. Here
both steps are fitted on the TRAINING codes and the test codes are placed with UMAP's
``transform``, so the test labels never touch the fit (the paper fits and scores on one
set). k-means on the same embedding is computed too, so each step's gain shows.

Deterministic for a given seed: umap-learn runs single-threaded when given a
``random_state`` (its parallel layout is not reproducible), and the mixture is seeded.
umap-learn is an optional extra: ``pip install 'aelab[umap]'``.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from aelab.errors import ConfigError, check, check_choice

Status = Callable[[str], None]
UMAP_EXTRA = "umap-learn is not installed: N2D needs it; pip install 'aelab[umap]'."


# N2DConfig field -> the name its value is recorded under (the "umap" part of the cluster
# section), which is also the flag of `aelab cluster` that sets it (--umap-neighbors)
SETTING_NAMES = {
    "n_neighbors": "umap_neighbors",
    "min_dist": "umap_min_dist",
    "metric": "umap_metric",
    "n_components": "umap_dims",
    "n_init": "gmm_n_init",
    "covariance": "gmm_covariance",
}


@dataclass(frozen=True)
class N2DConfig:
    """UMAP and mixture settings of N2D (the paper's values by default).

    n_components: 0 = the number of clusters. n_init: restarts of the mixture (and of the
    k-means on the embedding)."""

    n_neighbors: int = 20
    min_dist: float = 0.0
    metric: str = "euclidean"
    n_components: int = 0
    n_init: int = 1
    covariance: str = "full"

    def __post_init__(self) -> None:
        check(self.n_neighbors >= 2, "n_neighbors", self.n_neighbors, "an integer >= 2")
        check(0.0 <= self.min_dist <= 1.0, "min_dist", self.min_dist, "a distance in [0, 1]")
        check(self.n_components >= 0, "n_components", self.n_components, "0 (clusters) or >= 1")
        check(self.n_init >= 1, "n_init", self.n_init, "at least 1 restart")
        check(
            self.covariance in ("full", "tied", "diag", "spherical"),
            "covariance",
            self.covariance,
            "full, tied, diag or spherical",
        )

    def recorded(self) -> dict[str, Any]:
        """The settings under their recorded names (:data:`SETTING_NAMES`)."""
        return {name: getattr(self, field) for field, name in SETTING_NAMES.items()}


def _quiet(_: str) -> None:
    pass


def umap_version() -> str:
    """The installed umap-learn's version (recorded beside the settings it ran with)."""
    from importlib.metadata import version

    return version("umap-learn")


def require_umap() -> None:
    """Raise a one-line ConfigError naming the extra when umap-learn is missing."""
    if importlib.util.find_spec("umap") is None:
        raise ConfigError(UMAP_EXTRA)


def check_n2d(cfg: N2DConfig) -> None:
    """Fail fast, before any expensive step: the extra is installed and ``cfg.metric`` is a
    distance umap-learn knows."""
    require_umap()
    from umap.distances import named_distances

    check_choice("umap_metric", cfg.metric, tuple(named_distances))


@dataclass
class N2DResult:
    """UMAP embeddings of the fit and test codes, the mixture's and k-means' test
    assignments, the mixture's confidence per test point, seconds per step, and the
    settings as run (``umap_dims`` resolved, the seed, umap-learn's version)."""

    fit_embedding: np.ndarray
    test_embedding: np.ndarray
    gmm_assign: np.ndarray
    kmeans_assign: np.ndarray
    confidence: np.ndarray
    seconds: dict[str, float]
    settings: dict[str, Any]


def umap_embedding(
    fit_codes: np.ndarray,
    test_codes: np.ndarray,
    n_components: int,
    cfg: N2DConfig,
    *,
    seed: int,
    verbose: bool = False,
    status: Status = _quiet,
) -> tuple[np.ndarray, np.ndarray]:
    """UMAP fitted on ``fit_codes`` (N, D); returns (fit embedding, test embedding)."""
    require_umap()
    import umap

    reducer = umap.UMAP(
        n_neighbors=cfg.n_neighbors,
        min_dist=cfg.min_dist,
        metric=cfg.metric,
        n_components=n_components,
        random_state=seed,
        n_jobs=1,  # a seeded UMAP is single-threaded anyway; saying so keeps it quiet
        verbose=verbose,
    )
    status(
        f"UMAP: nearest-neighbour graph and layout of {len(fit_codes):,} training codes "
        f"({n_components} dimensions, n_neighbors {cfg.n_neighbors}, min_dist "
        f"{cfg.min_dist:g}, {cfg.metric}) ..."
    )
    start = time.perf_counter()
    fit = reducer.fit_transform(np.asarray(fit_codes, dtype=np.float32))
    status(f"UMAP fit: {time.perf_counter() - start:.1f}s")
    status(f"UMAP: placing {len(test_codes):,} test codes (transform) ...")
    start = time.perf_counter()
    test = reducer.transform(np.asarray(test_codes, dtype=np.float32))
    status(f"UMAP transform: {time.perf_counter() - start:.1f}s")
    return fit.astype(np.float32), test.astype(np.float32)


def n2d(
    fit_codes: np.ndarray,
    test_codes: np.ndarray,
    n_clusters: int,
    cfg: N2DConfig = N2DConfig(),
    *,
    seed: int = 0,
    status: Status = _quiet,
) -> N2DResult:
    """UMAP of the codes, then a Gaussian mixture and k-means on the embedding; both fitted
    on ``fit_codes`` (N, D) and applied to ``test_codes`` (M, D)."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    require_umap()
    if n_clusters < 2:
        raise ConfigError(f"N2D needs at least 2 clusters, got {n_clusters}.")
    if len(fit_codes) <= cfg.n_neighbors:
        raise ConfigError(
            f"N2D: {len(fit_codes)} fit codes are too few for n_neighbors={cfg.n_neighbors}; "
            "use more images or a smaller --umap-neighbors."
        )
    dims = cfg.n_components or n_clusters
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    fit_emb, test_emb = umap_embedding(fit_codes, test_codes, dims, cfg, seed=seed, status=status)
    seconds["umap"] = round(time.perf_counter() - start, 2)
    status(
        f"Gaussian mixture on the embedding ({n_clusters} components, {cfg.covariance} "
        f"covariance, {cfg.n_init} fit{'s' if cfg.n_init > 1 else ''}) ..."
    )
    start = time.perf_counter()
    gmm = GaussianMixture(
        n_components=n_clusters,
        covariance_type=cfg.covariance,
        n_init=cfg.n_init,
        random_state=seed,
    ).fit(fit_emb)
    proba = gmm.predict_proba(test_emb)
    seconds["gmm"] = round(time.perf_counter() - start, 2)
    status(
        f"Gaussian mixture: {seconds['gmm']:.1f}s"
        + ("" if gmm.converged_ else " (did not converge within its iterations)")
    )
    n_init = max(cfg.n_init, 10)
    status(f"k-means on the embedding ({n_clusters} clusters, {n_init} restarts) ...")
    start = time.perf_counter()
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(fit_emb)
    seconds["kmeans_umap"] = round(time.perf_counter() - start, 2)
    status(f"k-means on the embedding: {seconds['kmeans_umap']:.1f}s")
    return N2DResult(
        fit_embedding=fit_emb,
        test_embedding=test_emb,
        gmm_assign=proba.argmax(1),
        kmeans_assign=km.predict(test_emb),
        confidence=proba.max(1),
        seconds=seconds,
        settings=cfg.recorded() | {"umap_dims": dims, "seed": seed, "umap_learn": umap_version()},
    )


__all__ = [
    "SETTING_NAMES",
    "UMAP_EXTRA",
    "N2DConfig",
    "N2DResult",
    "check_n2d",
    "n2d",
    "require_umap",
    "umap_embedding",
    "umap_version",
]
