"""The settings of ``aelab cluster`` (no torch: the CLI builds its flags from them)."""

from __future__ import annotations

from dataclasses import dataclass

from aelab.errors import check


@dataclass(frozen=True)
class ClusterConfig:
    """Settings of one clustering run, fixed before it starts (IDEC's paper values where
    it gives them: gamma 0.1, batch 256, update interval 140, tol 0.1%, Adam 1e-3).

    n_clusters: 0 = the number of classes. train_limit: fit on the first N training images
    (0 = all). max_iter: the cap on fine-tuning steps (IDEC: 20,000; fewer fit a CPU)."""

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

    def __post_init__(self) -> None:
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


DEFAULT_CONFIG = ClusterConfig()

__all__ = ["DEFAULT_CONFIG", "ClusterConfig"]
