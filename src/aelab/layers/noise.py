"""Input corruption for denoising autoencoders.

Applied to the input in training mode only; the reconstruction target stays the clean
image. Inputs are float images in [0, 1] and corrupted images stay in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aelab.errors import check, check_choice, check_numbers


@dataclass(frozen=True)
class NoiseConfig:
    """Input corruption for denoising; applied in training only, the target stays clean.

    kind: ``none``; ``gaussian`` (std ``level``, clipped to [0, 1]); ``mask`` (each pixel
    zeroed with probability ``level``); ``saltpepper`` (each pixel set to 0 or 1 with
    probability ``level``).
    """

    kind: str = "none"
    level: float = 0.0

    def __post_init__(self) -> None:
        check_numbers(self)
        check_choice("kind", self.kind, ("none", "gaussian", "mask", "saltpepper"))
        check(self.level >= 0, "level", self.level, "a number >= 0")
        if self.kind in ("mask", "saltpepper"):
            check(self.level <= 1, "level", self.level, "a probability in [0, 1]")


def gaussian(x: Tensor, level: float) -> Tensor:
    """Add N(0, level^2) noise, clipped back to [0, 1]."""
    return (x + level * torch.randn_like(x)).clamp_(0.0, 1.0)


def mask(x: Tensor, level: float) -> Tensor:
    """Zero each pixel with probability ``level`` (masking noise)."""
    return x * (torch.rand_like(x) >= level)


def saltpepper(x: Tensor, level: float) -> Tensor:
    """Set each pixel with probability ``level`` to 0 or 1 (equally likely)."""
    hit = torch.rand_like(x) < level
    salt = (torch.rand_like(x) < 0.5).to(x.dtype)
    return torch.where(hit, salt, x)


CORRUPTIONS: dict[str, Callable[[Tensor, float], Tensor]] = {
    "gaussian": gaussian,
    "mask": mask,
    "saltpepper": saltpepper,
}


class Noise(nn.Module):
    """Corrupts its input while ``self.training``; the identity in eval mode."""

    def __init__(self, config: NoiseConfig) -> None:
        super().__init__()
        self.kind = config.kind
        self.level = config.level

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.kind == "none" or self.level == 0:
            return x
        return CORRUPTIONS[self.kind](x, self.level)

    def describe(self) -> str:
        return "" if self.kind == "none" else f"{self.kind} noise {self.level:g}"

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, level={self.level:g}"


def build_noise(config: NoiseConfig) -> Noise:
    return Noise(config)
