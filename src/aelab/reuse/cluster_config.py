"""The settings of ``aelab cluster`` (no torch: the CLI builds its flags from them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aelab.errors import ConfigError, check
from aelab.reuse.n2d import N2DConfig

# What ``--method`` chooses; the k-means baselines (pixels, PCA, the frozen code) always run:
# they are the comparison every other method is read against, and IDEC starts from one.
CLUSTER_METHODS = ("kmeans", "idec", "n2d")
DEFAULT_METHODS = ("kmeans", "idec")


@dataclass(frozen=True)
class ClusterConfig:
    """Settings of one clustering run, fixed before it starts (IDEC's paper values where
    it gives them: gamma 0.1, batch 256, update interval 140, tol 0.1%, Adam 1e-3).

    methods: which of :data:`CLUSTER_METHODS` run ("kmeans" is always included).
    n_clusters: 0 = the number of classes. train_limit: fit on the first N training images
    (0 = all). max_iter: the cap on fine-tuning steps (IDEC: 20,000; fewer fit a CPU).
    n2d: UMAP's and the Gaussian mixture's settings of N2D (the paper's by default)."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    n_clusters: int = 0
    n_init: int = 20
    seed: int = 0
    alpha: float = 1.0
    gamma: float = 0.1
    lr: float = 1e-3
    batch_size: int = 256
    update_interval: int = 140
    tol: float = 0.001
    max_iter: int = 2000
    train_limit: int = 0
    n2d: N2DConfig = field(default_factory=N2DConfig)

    def __post_init__(self) -> None:
        for method in self.methods:
            if method not in CLUSTER_METHODS:
                raise ConfigError(
                    f"methods: {method!r} is not a clustering method: expected "
                    f"{', '.join(CLUSTER_METHODS)} (or all)."
                )
        chosen = {"kmeans", *self.methods}
        object.__setattr__(self, "methods", tuple(m for m in CLUSTER_METHODS if m in chosen))
        check(self.n_clusters >= 0, "n_clusters", self.n_clusters, "0 (classes) or >= 2")
        check(self.n_clusters != 1, "n_clusters", self.n_clusters, "0 (classes) or >= 2")
        check(self.n_init >= 1, "n_init", self.n_init, "at least 1 restart")
        check(self.alpha > 0, "alpha", self.alpha, "a positive degree of freedom")
        check(self.gamma >= 0, "gamma", self.gamma, "a weight >= 0")
        check(self.lr > 0, "lr", self.lr, "a positive learning rate")
        check(self.batch_size >= 1, "batch_size", self.batch_size, "at least 1")
        check(self.update_interval >= 1, "update_interval", self.update_interval, ">= 1 step")
        check(0 <= self.tol < 1, "tol", self.tol, "a fraction in [0, 1)")
        check(self.max_iter >= 0, "max_iter", self.max_iter, "0 (k-means only) or more steps")
        check(self.train_limit >= 0, "train_limit", self.train_limit, "0 (all) or more images")

    def runs(self, method: str) -> bool:
        """Whether ``method`` (one of :data:`CLUSTER_METHODS`) is part of this run."""
        return method in self.methods


DEFAULT_CONFIG = ClusterConfig()

__all__ = ["CLUSTER_METHODS", "DEFAULT_CONFIG", "DEFAULT_METHODS", "ClusterConfig"]
