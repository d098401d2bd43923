"""Fully connected autoencoder: input -> hidden layers -> code -> mirrored hidden -> output.

``hidden = []`` is the vanilla one-layer model (R1: 784-32-784); ``hidden = [256]`` with
``latent_dim = 32`` is R2's 784-256-32-256-784. ``tied = true`` makes the decoder mirror
the encoder's weights (each decoder layer uses the transpose of its encoder twin and owns
only its bias).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aelab.layers.activations import check_activation, make_activation
from aelab.models.base import (
    Autoencoder,
    ModelConfig,
    check_code,
    check_widths,
    code_activation,
)
from aelab.models.registry import register_model


@dataclass(frozen=True)
class DenseConfig(ModelConfig):
    """hidden: encoder layer sizes (the decoder mirrors them). activation: hidden layers.
    code_activation: on the code (``auto``: relu; sigmoid under KL sparsity, linear under
    top-k). tied: decoder weights are the transposed encoder weights."""

    family: str = "dense"
    hidden: tuple[int, ...] = ()
    activation: str = "relu"
    code_activation: str = "auto"
    tied: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_widths("hidden", self.hidden)
        check_activation("activation", self.activation)
        check_code(self, self.code_activation)


def mlp(sizes: list[int], activation: str, last: str | None) -> list[nn.Module]:
    """Linear layers through ``sizes`` with ``activation`` between them and ``last`` (or
    nothing: logits) after the final one."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        act = activation if i < len(sizes) - 2 else last
        if act not in (None, "identity"):
            layers.append(make_activation(act))
    return layers


class TiedLinear(nn.Module):
    """A decoder layer that reuses the transpose of an encoder ``nn.Linear``'s weight."""

    def __init__(self, source: nn.Linear) -> None:
        super().__init__()
        self._source = (source,)  # a tuple keeps it out of the module tree: one copy of W
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    def forward(self, h: Tensor) -> Tensor:
        return F.linear(h, self._source[0].weight.t(), self.bias)

    def extra_repr(self) -> str:
        w = self._source[0].weight
        return f"in_features={w.shape[0]}, out_features={w.shape[1]}, tied"


@register_model("dense", DenseConfig)
class DenseAutoencoder(Autoencoder):
    config: DenseConfig

    def __init__(self, config: DenseConfig) -> None:
        super().__init__(config)
        self.sizes = [math.prod(self.input_shape), *config.hidden, config.latent_dim]
        code_act = code_activation(config, config.code_activation, config.activation)
        self.encoder = nn.Sequential(nn.Flatten(), *mlp(self.sizes, config.activation, code_act))
        if config.tied:
            linears = [m for m in self.encoder if isinstance(m, nn.Linear)][::-1]
            layers: list[nn.Module] = []
            for i, linear in enumerate(linears):
                layers.append(TiedLinear(linear))
                if i < len(linears) - 1:
                    layers.append(make_activation(config.activation))
        else:
            layers = mlp(self.sizes[::-1], config.activation, None)
        self.decoder = nn.Sequential(*layers, nn.Unflatten(1, self.input_shape))
        self.init_weights()

    def describe_architecture(self) -> str:
        sizes = self.sizes + self.sizes[-2::-1]
        return "dense " + "-".join(map(str, sizes)) + (" (tied)" if self.config.tied else "")
