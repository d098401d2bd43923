"""The Autoencoder contract every family implements, and the machinery they share.

The trainer, the metrics and the reuse tools only ever call these methods, so they never
need to know the family:

- ``encode(x)``:  x (B, C, H, W) float in [0, 1] -> code (B, latent_dim)
- ``decode(z)``:  code (B, latent_dim) -> logits (B, C, H, W)
- ``forward(x)``: logits (B, C, H, W); outputs stay logits for numerically stable BCE
- ``reconstruct(x)``: pixels (B, C, H, W) in [0, 1]
- ``loss(x)``: :class:`LossOutput` (total plus named parts), the model owns its loss;
  input corruption (denoising) happens inside, in training mode only.
- ``describe()``: one line ("dense 784-32-784, l1 sparsity 1e-05"); ``regularizer``:
  "none", "l1", "kl", "topk", "noise:gaussian", "l1+noise:gaussian", "kl-prior", ...
- abilities: ``has_code_distribution`` (then ``encode_distribution(x) -> (mu, logvar)``)
  and ``is_generative`` (then ``sample(n)`` and ``interpolate(a, b, steps)``, pixels in
  [0, 1]); the base class has neither and raises a ConfigError naming the family.

Writing a family (built-in or plugin; ``docs/plugins.md`` walks through one):

1. a frozen config dataclass subclassing :class:`ModelConfig` whose ``family`` field
   defaults to the family's name, its own fields validated in ``__post_init__``;
2. a subclass of :class:`Autoencoder` whose ``__init__(config)`` calls
   ``super().__init__(config)``, builds ``self.encoder`` (images -> code, after the code
   activation) and ``self.decoder`` (code -> logits), then calls ``self.init_weights()``;
3. ``@register_model(name, Config)`` on the class (``aelab.register_model``).

This base class adds input checks, the sparsity regulariser, input noise, the
reconstruction loss and the code statistics. Families whose code or decoder is not a
plain module override ``features`` or ``decode``; the VAE overrides ``encode`` and
``loss`` and declares its abilities (``has_code_distribution``, ``is_generative``,
``regularizer``). Two plain modules become a model with :meth:`Autoencoder.from_modules`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aelab.errors import ConfigError, DataError, check, check_choice, check_numbers, warn
from aelab.layers.activations import check_activation
from aelab.layers.fused_bce import bce_with_logits_sum
from aelab.layers.init import init_weights
from aelab.layers.noise import NoiseConfig, build_noise
from aelab.layers.sparsity import SparsityConfig, build_sparsity


@dataclass
class LossOutput:
    """A scalar ``total`` to backpropagate and its named ``parts`` (reconstruction, sparsity,
    kl, ...), each a scalar tensor; ``stats`` carries extra diagnostics (code activity)."""

    total: Tensor
    parts: dict[str, Tensor]
    stats: dict[str, Tensor] = field(default_factory=dict)


# --------------------------------------------------------------------------- config


def check_input_shape(value: Any) -> None:
    """``value`` is (channels, height, width): three integers > 0 (never coerced: 28.5 or
    "28" are errors, not 28)."""
    dims = tuple(value) if isinstance(value, (tuple, list)) else ()
    check(
        len(dims) == 3
        and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in dims
        ),
        "input_shape",
        value,
        "[channels, height, width], three integers > 0",
    )


MAX_WIDTH = 1 << 20  # the widest layer or code a config may ask for (latent_dim, hidden, channels)


def check_widths(name: str, value: int | tuple[int, ...]) -> None:
    """``value`` (a layer width or a tuple of them) is from 1 to MAX_WIDTH: a width beyond
    that is a typo, and past int64 torch fails with an overflow deep inside a layer."""
    widths = value if isinstance(value, tuple) else (value,)
    check(
        all(1 <= w <= MAX_WIDTH for w in widths),
        name,
        list(value) if isinstance(value, tuple) else value,
        f"{'layer sizes' if isinstance(value, tuple) else 'an integer'} from 1 to {MAX_WIDTH:,}",
    )


@dataclass(frozen=True)
class ModelConfig:
    """Fields every family shares. Families subclass this with their own fields.

    loss: ``bce`` or ``mse``. reduction: ``mean`` (mean over pixels, then over the batch,
    as Keras does) or ``sum`` (sum over pixels, mean over the batch).
    init: ``torch`` (PyTorch defaults) or ``keras`` (Glorot-uniform kernels, zero biases).
    input_shape: (channels, height, width); filled from the data when left unset.
    overcomplete: a code at least as wide as the input is intended (R4's 32x7x7 conv code):
    without it such a code, neither sparse nor denoising, warns that the model can learn
    the identity map; it changes nothing else, and nothing for a narrower code.
    """

    family: str = "dense"
    latent_dim: int = 32
    loss: str = "bce"
    reduction: str = "mean"
    init: str = "torch"
    input_shape: tuple[int, int, int] | None = None
    overcomplete: bool = False
    sparsity: SparsityConfig = field(default_factory=SparsityConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    def __post_init__(self) -> None:
        check_numbers(self)
        check_widths("latent_dim", self.latent_dim)
        check_choice("loss", self.loss, ("bce", "mse"))
        check_choice("reduction", self.reduction, ("mean", "sum"))
        check_choice("init", self.init, ("torch", "keras"))
        if self.input_shape is not None:
            check_input_shape(self.input_shape)
        if self.sparsity.kind == "topk":
            check(
                self.sparsity.k <= self.latent_dim,
                "sparsity.k",
                self.sparsity.k,
                f"at most latent_dim={self.latent_dim}",
            )

    @property
    def regularizer(self) -> str:
        """What regularises the code: "none", "l1", "topk", "noise:gaussian",
        "l1+noise:gaussian", ...; families with a regulariser of their own add it."""
        kinds = [self.sparsity.kind] if self.sparsity.kind != "none" else []
        if self.noise.kind != "none":
            kinds.append(f"noise:{self.noise.kind}")
        return "+".join(kinds) or "none"


# --------------------------------------------------------------------------- config helpers


def code_activation(cfg: ModelConfig, requested: str, default: str) -> str:
    """The activation on the code: ``requested`` unless ``"auto"``, which means a sigmoid
    for KL sparsity (it needs rates in (0, 1)), linear for top-k (Makhzani's k-sparse
    autoencoder; keeps exactly k non-zeros) and the family's ``default`` otherwise."""
    if requested != "auto":
        return requested
    return {"kl": "sigmoid", "topk": "identity"}.get(cfg.sparsity.kind, default)


def check_code(cfg: ModelConfig, requested: str) -> None:
    """Checks every non-variational family shares: a known code activation, a code in
    (0, 1) for KL sparsity, and a warning for an over-complete unregularised code."""
    if requested != "auto":
        check_activation("code_activation", requested)
    if cfg.sparsity.kind == "kl":
        check(
            requested in ("auto", "sigmoid"),
            "code_activation",
            requested,
            "'sigmoid' or 'auto' with sparsity.kind='kl' (its rates must lie in (0, 1))",
        )
    if cfg.input_shape is None:
        return
    size = math.prod(cfg.input_shape)
    if (
        cfg.latent_dim >= size
        and not cfg.overcomplete
        and cfg.sparsity.kind == "none"
        and cfg.noise.kind == "none"
    ):
        warn(
            f"latent_dim={cfg.latent_dim} is at least the input size {size} and the code is "
            "neither sparse nor trained on noisy inputs: the model can learn the identity map. "
            "Set model.overcomplete=true if that is intended."
        )


def image_shape(cfg: ModelConfig, family: str) -> tuple[int, int, int] | None:
    """``input_shape`` when set, checked to be an image (height and width > 1)."""
    if cfg.input_shape is None:
        return None
    c, h, w = cfg.input_shape
    check(
        h > 1 and w > 1,
        "input_shape",
        list(cfg.input_shape),
        f"an image [channels, height, width] with height and width > 1 for family '{family}' "
        "(feature vectors [1, 1, D] train with the dense or vae family)",
    )
    return c, h, w


# --------------------------------------------------------------------------- reconstruction loss


def _bce(logits: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def _mse(logits: Tensor, target: Tensor) -> Tensor:
    return (torch.sigmoid(logits) - target).square()


PIXEL_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"bce": _bce, "mse": _mse}
PIXEL_REDUCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "mean": lambda per_pixel: per_pixel.mean(1),  # Keras: mean over pixels ...
    "sum": lambda per_pixel: per_pixel.sum(1),
}


def reconstruction_loss(logits: Tensor, target: Tensor, loss: str, reduction: str) -> Tensor:
    """Per-pixel ``loss`` (bce on logits, or mse on sigmoid outputs), reduced over the pixels
    of each sample by ``reduction`` (mean or sum), then averaged over the batch.

    BCE on CPU takes the fused path (:mod:`aelab.layers.fused_bce`: same value to float32
    rounding, less than half the time); both reductions are a scaled total."""
    if loss == "bce" and logits.device.type == "cpu" and logits.numel():
        pixels = math.prod(logits.shape[1:]) if reduction == "mean" else 1
        return bce_with_logits_sum(logits, target, 1.0 / (pixels * len(logits)))
    per_pixel = PIXEL_LOSSES[loss](logits, target).flatten(1)
    return PIXEL_REDUCTIONS[reduction](per_pixel).mean()  # ... then over the batch


def code_stats(z: Tensor) -> dict[str, Tensor]:
    """Activity of a code (B, latent): mean activation and mean number of non-zeros (L0)."""
    z = z.detach()
    return {"mean_activation": z.mean(), "l0": (z != 0).sum(1).float().mean()}


# --------------------------------------------------------------------------- the contract


class Autoencoder(nn.Module):
    """Base class of every family (see the module docstring for the contract)."""

    config: ModelConfig
    family: str = ""  # set by ``register_model``

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.input_shape is None:
            raise ConfigError(
                "model.input_shape is not set: pass input_shape=(C, H, W) to "
                "aelab.build_model, or build the model from a run config whose dataset is known."
            )
        self.config = config
        self.noise = build_noise(config.noise)
        self.sparsity = build_sparsity(config.sparsity, config.latent_dim)

    # -- shapes ------------------------------------------------------------------------

    @property
    def input_shape(self) -> tuple[int, int, int]:
        assert self.config.input_shape is not None
        return tuple(self.config.input_shape)  # type: ignore[return-value]

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def check_input(self, x: Tensor) -> None:
        """Raise a DataError unless ``x`` is a float batch (B, C, H, W) of this model's shape."""
        c, h, w = self.input_shape
        if x.dim() == 4 and tuple(x.shape[1:]) == (c, h, w) and x.is_floating_point():
            return
        found = f"{x.dtype} {tuple(x.shape)}".replace("torch.", "")
        hint = ""
        if not x.is_floating_point():
            hint = " Convert uint8 images with x.float() / 255."
        elif x.dim() == 2 and x.shape[1] == c * h * w:
            hint = f" Reshape flat inputs with x.view(-1, {c}, {h}, {w})."
        elif x.dim() == 3 and tuple(x.shape) == (c, h, w):
            hint = " Add the batch dimension with x.unsqueeze(0)."
        raise DataError(
            f"{type(self).__name__} expects float images of shape (B, {c}, {h}, {w}) in [0, 1] "
            f"(model.input_shape={[c, h, w]}), found {found}.{hint}"
        )

    # -- encode / decode ---------------------------------------------------------------

    def features(self, x: Tensor) -> Tensor:
        """The code before the sparsity transform (after the code activation): (B, latent)."""
        return self.encoder(x)

    def encode(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.sparsity(self.features(x))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.forward(x))

    # -- abilities -----------------------------------------------------------------------

    @property
    def has_code_distribution(self) -> bool:
        """Whether ``encode_distribution`` gives a distribution q(z|x) over codes."""
        return False

    @property
    def is_generative(self) -> bool:
        """Whether ``sample`` and ``interpolate`` decode new images from the code space."""
        return False

    def _unable(self, what: str) -> ConfigError:
        return ConfigError(
            f"family '{self.family or type(self).__name__}' has no {what}; "
            "use a variational family (family = 'vae')."
        )

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) as (mu, logvar), each (B, latent_dim); families with one override this."""
        raise self._unable("distribution over codes (encode_distribution)")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new images (n, C, H, W) in [0, 1]; generative families override this."""
        raise self._unable("prior to sample from (sample)")

    def interpolate(self, a: Tensor, b: Tensor, steps: int = 8) -> Tensor:
        """``steps`` images (steps, C, H, W) in [0, 1] between ``a`` and ``b``; generative
        families override this."""
        raise self._unable("prior to interpolate in (interpolate)")

    # -- loss ----------------------------------------------------------------------------

    def reconstruction_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        return reconstruction_loss(logits, target, self.config.loss, self.config.reduction)

    def loss(self, x: Tensor) -> LossOutput:
        """Reconstruction of the clean ``x`` from its (training-mode) corruption, plus the
        sparsity term when the config asks for one."""
        self.check_input(x)
        h = self.features(self.noise(x))
        z = self.sparsity(h)
        logits = self.decode(z)
        parts = {"reconstruction": self.reconstruction_loss(logits, x)}
        penalty = self.sparsity.penalty(
            h, z, lambda code: self.reconstruction_loss(self.decode(code), x)
        )
        if penalty is not None:
            parts["sparsity"] = penalty
        total = sum(parts.values(), torch.zeros((), device=x.device))
        return LossOutput(total=total, parts=parts, stats=code_stats(z))

    # -- construction and description ---------------------------------------------------

    # ``Autoencoder.from_modules(encoder, decoder, *, input_shape, latent_dim=None, loss="bce",
    # reduction="mean", sparsity=None, noise=None)``: any two nn.Modules as an aelab model
    # (family ``modules``). Defined in aelab.models.modules, which subclasses this class and
    # attaches it when the models package is imported (always, before this module).
    from_modules: ClassVar[Callable[..., Autoencoder]]

    def init_weights(self) -> None:
        """Apply ``config.init`` (``torch`` defaults or ``keras`` Glorot/zeros); families call
        this at the end of ``__init__``. Models with 2-D convolutions are then stored
        channels-last: oneDNN's NHWC kernels train r3-fashion-conv 1.50x and R4's CNN 1.29x
        faster per step on one CPU thread, the strided conv alike (0.98x)
        (``benchmarks/conv_layout_bench.py``); outputs keep their logical shape, and
        checkpoints are written contiguous."""
        init_weights(self, self.config.init)
        if any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in self.modules()):
            self.to(memory_format=torch.channels_last)

    def describe_architecture(self) -> str:
        """The layer sizes, e.g. ``dense 784-32-784``; families override this."""
        return self.family or type(self).__name__

    def describe(self) -> str:
        extras = [self.sparsity.describe(), self.noise.describe()]
        return ", ".join([self.describe_architecture(), *[e for e in extras if e]])

    @property
    def regularizer(self) -> str:
        """The config's regulariser name (``ModelConfig.regularizer``)."""
        return self.config.regularizer
