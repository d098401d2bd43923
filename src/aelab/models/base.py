"""The Autoencoder contract every family implements.

The trainer, the metrics and the reuse tools only ever call these methods, so they never
need to know the family:

- ``encode(x)``:  x (B, C, H, W) float in [0, 1] -> code (B, latent_dim)
- ``decode(z)``:  code (B, latent_dim) -> logits (B, C, H, W)
- ``forward(x)``: logits (B, C, H, W); outputs stay logits for numerically stable BCE
- ``reconstruct(x)``: pixels (B, C, H, W) in [0, 1]
- ``loss(x)``: :class:`LossOutput` (total plus named parts), the model owns its loss;
  input corruption (denoising) happens inside, in training mode only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from aelab.config import ModelConfig


@dataclass
class LossOutput:
    """A scalar ``total`` to backpropagate and its named ``parts`` (reconstruction, sparsity,
    kl, ...), each a scalar tensor; ``stats`` carries extra diagnostics (code activity)."""

    total: Tensor
    parts: dict[str, Tensor]
    stats: dict[str, Tensor] = field(default_factory=dict)


class Autoencoder(nn.Module):
    """Base class of every family. Subclasses set ``self.config`` and implement
    ``encode``, ``decode`` and ``loss``."""

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.input_shape is None:
            raise ValueError("config.input_shape must be set before building a model")
        self.config = config

    @property
    def input_shape(self) -> tuple[int, int, int]:
        assert self.config.input_shape is not None
        return self.config.input_shape

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.forward(x))

    def loss(self, x: Tensor) -> LossOutput:
        raise NotImplementedError
