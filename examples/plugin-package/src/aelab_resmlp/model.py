"""A residual-MLP autoencoder: a plugin family for aelab, readable top to bottom.

encoder: flatten -> Linear(pixels, width) -> ``blocks`` x [x + MLP(LayerNorm(x))] -> code
decoder: Linear(code, width) -> ``blocks`` residual blocks -> Linear(width, pixels) logits

Everything else (sparsity, denoising, the loss, code statistics, saving and loading,
evaluation) comes from :class:`aelab.Autoencoder`; this file is the whole family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

import aelab
from aelab.errors import check


@dataclass(frozen=True)
class ResMLPConfig(aelab.ModelConfig):
    """width: size of the residual stream; blocks: residual blocks in the encoder (the
    decoder mirrors them)."""

    family: str = "resmlp"
    width: int = 256
    blocks: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.width >= 1, "width", self.width, "an integer >= 1")
        check(self.blocks >= 0, "blocks", self.blocks, "an integer >= 0")


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(Linear(LayerNorm(x)))) (pre-norm, as in transformer MLP blocks)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mlp(x)


@aelab.register_model("resmlp", ResMLPConfig)
class ResMLPAutoencoder(aelab.Autoencoder):
    config: ResMLPConfig

    def __init__(self, config: ResMLPConfig) -> None:
        super().__init__(config)
        pixels, width = math.prod(self.input_shape), config.width
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, width),
            *[ResidualBlock(width) for _ in range(config.blocks)],
            nn.ReLU(),
            nn.Linear(width, config.latent_dim),
            nn.ReLU(),  # a non-negative code, as the L1 activity penalty expects
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, width),
            *[ResidualBlock(width) for _ in range(config.blocks)],
            nn.ReLU(),
            nn.Linear(width, pixels),
            nn.Unflatten(1, self.input_shape),
        )
        self.init_weights()

    def describe_architecture(self) -> str:
        cfg = self.config
        return f"resmlp {math.prod(self.input_shape)}-{cfg.width}x{cfg.blocks}-{cfg.latent_dim}"
