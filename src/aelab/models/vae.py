"""Variational autoencoder (Kingma & Welling) with a dense or convolutional encoder.

The encoder trunk feeds two heads, the mean ``mu`` and the log-variance ``logvar`` of
q(z|x); training decodes ``z = mu + exp(logvar / 2) * eps`` (reparameterisation), eval
decodes ``mu``. Loss = reconstruction + ``beta`` * KL(q(z|x) || N(0, I)), with the KL
reduced like the reconstruction: per sample (summed over latent dims) for
``reduction = "sum"`` (R4's VAE: summed MSE + KL), divided by the pixel count for
``reduction = "mean"`` so both terms stay on the per-pixel scale of the ELBO.
``encode`` returns ``mu``; ``sample(n)`` decodes draws from the prior;
``interpolate(a, b, steps)`` decodes the line between two images' means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aelab.errors import check, check_choice
from aelab.layers.activations import check_activation, make_activation
from aelab.models.base import Autoencoder, LossOutput, ModelConfig, check_widths, code_stats
from aelab.models.conv import check_conv_geometry, code_shape, conv_decoder, conv_encoder
from aelab.models.dense import mlp
from aelab.models.registry import register_model


@dataclass(frozen=True)
class VAEConfig(ModelConfig):
    """encoder: ``dense`` (layers ``hidden``) or ``conv`` (blocks ``channels``, ``kernel``,
    ``downsample``, ``upsample`` as in the conv family); beta: weight of the KL term."""

    family: str = "vae"
    encoder: str = "dense"
    hidden: tuple[int, ...] = (400,)
    channels: tuple[int, ...] = (32, 64)
    kernel: int = 3
    downsample: str = "stride"
    upsample: str = "transpose"
    activation: str = "relu"
    beta: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("encoder", self.encoder, ("dense", "conv"))
        check_widths("hidden", self.hidden)
        check_activation("activation", self.activation)
        check(self.beta >= 0, "beta", self.beta, "a KL weight >= 0")
        check(
            self.sparsity.kind == "none",
            "sparsity.kind",
            self.sparsity.kind,
            "'none' for family 'vae' (its KL term already regularises the code; tune beta)",
        )
        if self.encoder == "conv":
            check_conv_geometry(self, self.channels, self.kernel, self.downsample, self.upsample)

    @property
    def regularizer(self) -> str:
        """The KL to the N(0, I) prior regularises the code (in the loss, not a layer)."""
        base = super().regularizer
        parts = (["kl-prior"] if self.beta > 0 else []) + ([base] if base != "none" else [])
        return "+".join(parts) or "none"


@register_model("vae", VAEConfig)
class VAE(Autoencoder):
    config: VAEConfig

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        c, h, w = self.input_shape
        act = config.activation
        if config.encoder == "dense":
            sizes = [c * h * w, *config.hidden]
            trunk = [nn.Flatten(), *mlp(sizes, act, act)]
            features = sizes[-1]
            decoder = [
                *mlp([config.latent_dim, *sizes[::-1]], act, None),
                nn.Unflatten(1, (c, h, w)),
            ]
        else:
            shape = code_shape(config, config.channels)
            assert shape is not None
            features = math.prod(shape)
            trunk = [
                *conv_encoder(c, config.channels, config.kernel, config.downsample, act, act),
                nn.Flatten(),
            ]
            decoder = [
                nn.Linear(config.latent_dim, features),
                make_activation(act),
                nn.Unflatten(1, shape),
                *conv_decoder(config.channels, c, config.kernel, config.upsample, act),
            ]
        self.encoder = nn.Sequential(*trunk)
        self.mu = nn.Linear(features, config.latent_dim)
        self.logvar = nn.Linear(features, config.latent_dim)
        self.decoder = nn.Sequential(*decoder)
        self.init_weights()

    # -- encoding ----------------------------------------------------------------------

    @property
    def has_code_distribution(self) -> bool:
        return True

    @property
    def is_generative(self) -> bool:
        return True

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) as (mu, logvar), each (B, latent_dim)."""
        self.check_input(x)
        f = self.encoder(x)
        return self.mu(f), self.logvar(f)

    def encode(self, x: Tensor) -> Tensor:
        return self.encode_distribution(x)[0]

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    @staticmethod
    def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
        """KL(N(mu, exp(logvar)) || N(0, I)) per sample, summed over dims: (B,)."""
        return -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)

    # -- loss ----------------------------------------------------------------------------

    def loss(self, x: Tensor) -> LossOutput:
        mu, logvar = self.encode_distribution(self.noise(x))
        z = self.reparameterize(mu, logvar) if self.training else mu
        reconstruction = self.reconstruction_loss(self.decode(z), x)
        kl = self.kl_divergence(mu, logvar).mean()
        if self.config.reduction == "mean":
            kl = kl / math.prod(self.input_shape)
        parts = {"reconstruction": reconstruction, "kl": self.config.beta * kl}
        stats = code_stats(mu)
        stats["logvar_mean"] = logvar.detach().mean()
        return LossOutput(total=reconstruction + parts["kl"], parts=parts, stats=stats)

    # -- generation ----------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images (n, C, H, W) in [0, 1] decoded from z ~ N(0, I)."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        device = next(self.parameters()).device
        return torch.sigmoid(self.decode(z.to(device)))

    @torch.no_grad()
    def interpolate(self, a: Tensor, b: Tensor, steps: int = 8) -> Tensor:
        """Decode ``steps`` points on the line between the means of images ``a`` and ``b``
        ((C, H, W) or (1, C, H, W)): (steps, C, H, W) in [0, 1], first ``a``'s, last ``b``'s."""
        ends = torch.stack([a.reshape(self.input_shape), b.reshape(self.input_shape)])
        za, zb = self.encode(ends)
        t = torch.linspace(0, 1, steps, device=za.device).unsqueeze(1)
        return torch.sigmoid(self.decode((1 - t) * za + t * zb))

    def describe_architecture(self) -> str:
        cfg = self.config
        if cfg.encoder == "dense":
            sizes = [math.prod(self.input_shape), *cfg.hidden]
            body = "-".join(map(str, [*sizes, cfg.latent_dim, *sizes[::-1]]))
        else:
            c, h, w = self.input_shape
            blocks = "-".join(map(str, cfg.channels))
            body = f"conv {c}x{h}x{w} channels {blocks}, code {cfg.latent_dim}"
        return f"vae {body}, beta={cfg.beta:g}"
