"""Sparsity regularisers on the code; they compose with every non-variational family.

Each is a module with two roles:

- ``forward(h) -> z``: the code the decoder sees (identity except for top-k, which keeps
  the k largest activations per sample and zeroes the rest);
- ``penalty(h, z, aux_loss) -> scalar``: the term added to the loss, reported as the
  ``sparsity`` part.

``h``, ``z``: (B, latent_dim). Semantics:

- ``l1``: ``weight * sum_j |z_j|`` per sample, averaged over the batch (Keras'
  ``activity_regularizer=l1(weight)``).
- ``kl``: ``weight * sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the batch-mean
  activation of unit j; the code must lie in (0, 1) (a sigmoid code).
- ``topk``: no penalty on the kept units; an auxiliary loss (AuxK, Gao et al. 2024) lets
  the ``k`` largest *dead* units (not selected for ``dead_after`` training batches) join
  the code and trains them on the reconstruction, which revives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aelab.errors import check, check_choice, check_numbers


@dataclass(frozen=True)
class SparsityConfig:
    """A sparsity regulariser on the code; applies to every non-variational family.

    kind: ``none``; ``l1`` (activity penalty ``weight * sum_j |z_j|`` per sample, batch mean,
    as Keras' ``activity_regularizer=l1``); ``kl`` (KL(rho || mean activation) on a
    sigmoid-bounded code, times ``weight``); ``topk`` (keep the ``k`` largest activations
    per sample; ``aux_weight`` scales an auxiliary loss that revives dead units).
    """

    kind: str = "none"
    weight: float = 0.0
    rho: float = 0.05
    k: int = 0
    aux_weight: float = 1.0 / 32

    def __post_init__(self) -> None:
        check_numbers(self)
        check_choice("kind", self.kind, ("none", "l1", "kl", "topk"))
        check(self.weight >= 0, "weight", self.weight, "a number >= 0")
        check(0 < self.rho < 1, "rho", self.rho, "a target rate strictly between 0 and 1")
        check(self.k >= 0, "k", self.k, "an integer >= 0")
        check(self.aux_weight >= 0, "aux_weight", self.aux_weight, "a number >= 0")
        if self.kind == "topk":
            check(self.k >= 1, "k", self.k, "an integer >= 1 for kind='topk'")


AuxLoss = Callable[[Tensor], Tensor]  # code -> reconstruction loss of decoding it


class Sparsity(nn.Module):
    """No sparsity: the code passes through and nothing is added to the loss."""

    kind = "none"

    def forward(self, h: Tensor) -> Tensor:
        return h

    def penalty(self, h: Tensor, z: Tensor, aux_loss: AuxLoss) -> Tensor | None:
        return None

    def describe(self) -> str:
        return ""


class L1Sparsity(Sparsity):
    kind = "l1"

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def penalty(self, h: Tensor, z: Tensor, aux_loss: AuxLoss) -> Tensor:
        return self.weight * z.abs().flatten(1).sum(1).mean()

    def describe(self) -> str:
        return f"l1 sparsity {self.weight:g}"


class KLSparsity(Sparsity):
    kind = "kl"
    eps = 1e-6

    def __init__(self, rho: float, weight: float) -> None:
        super().__init__()
        self.rho = rho
        self.weight = weight

    def divergence(self, z: Tensor) -> Tensor:
        """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)); zero when every rho_hat_j = rho."""
        rho = self.rho
        rho_hat = z.flatten(1).mean(0).clamp(self.eps, 1 - self.eps)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return kl.sum()

    def penalty(self, h: Tensor, z: Tensor, aux_loss: AuxLoss) -> Tensor:
        return self.weight * self.divergence(z)

    def describe(self) -> str:
        return f"kl sparsity rho={self.rho:g} weight={self.weight:g}"


class TopKSparsity(Sparsity):
    kind = "topk"
    dead_after = 100  # training batches without being selected before a unit counts as dead

    def __init__(self, k: int, aux_weight: float, latent_dim: int) -> None:
        super().__init__()
        self.k = k
        self.aux_weight = aux_weight
        self.register_buffer("steps_inactive", torch.zeros(latent_dim, dtype=torch.long))

    @staticmethod
    def keep_topk(h: Tensor, k: int) -> Tensor:
        """Keep the ``k`` largest entries of each row of ``h``; zero the rest."""
        values, index = h.topk(k, dim=1)
        return torch.zeros_like(h).scatter(1, index, values)

    def forward(self, h: Tensor) -> Tensor:
        z = self.keep_topk(h, self.k)
        if self.training:
            with torch.no_grad():
                fired = (z != 0).any(0)
                self.steps_inactive.add_(1).masked_fill_(fired, 0)
        return z

    def dead_units(self) -> Tensor:
        return self.steps_inactive > self.dead_after

    def penalty(self, h: Tensor, z: Tensor, aux_loss: AuxLoss) -> Tensor:
        dead = self.dead_units()
        if not self.training or self.aux_weight == 0 or not bool(dead.any()):
            return h.new_zeros(())
        k_aux = min(self.k, int(dead.sum()))
        candidates = h.masked_fill(~dead, float("-inf"))
        revived = self.keep_topk(candidates, k_aux)
        return self.aux_weight * aux_loss(z.detach() + revived)

    def describe(self) -> str:
        return f"top-{self.k} sparsity"


def build_sparsity(config: SparsityConfig, latent_dim: int) -> Sparsity:
    builders: dict[str, Callable[[], Sparsity]] = {
        "none": Sparsity,
        "l1": lambda: L1Sparsity(config.weight),
        "kl": lambda: KLSparsity(config.rho, config.weight),
        "topk": lambda: TopKSparsity(config.k, config.aux_weight, latent_dim),
    }
    return builders[config.kind]()
