"""Convolutional autoencoder for 1- and 3-channel images of any size divisible by the
downsampling.

Encoder: one block per entry of ``channels`` (conv ``kernel`` x ``kernel``, activation,
halving the size by a stride-2 conv or a 2x2 max-pool, then ``depth - 1`` more size-keeping
convs), then an optional dense ``bottleneck`` to ``latent_dim``. Decoder: the mirror
(``depth - 1`` size-keeping convs, then doubling the size by a stride-2 transposed conv or
by nearest upsampling followed by a conv); the last layer outputs logits.
Without a bottleneck the code is the last feature map, flattened: R4's CNN-AE (channels
16, 32, pool, transpose) has a 32x7x7 code, ``latent_dim = 1568``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from aelab.errors import check, check_choice
from aelab.layers.activations import check_activation, make_activation
from aelab.models.base import (
    Autoencoder,
    ModelConfig,
    check_code,
    check_widths,
    code_activation,
    image_shape,
)
from aelab.models.registry import register_model


@dataclass(frozen=True)
class ConvConfig(ModelConfig):
    """channels: encoder feature maps per block (the decoder mirrors them). kernel: odd
    size. downsample: ``stride`` or ``pool``. upsample: ``transpose`` or ``upsample``.
    depth: convs per block (1 = the resizing conv alone; each extra one keeps the size).
    bottleneck: a dense layer to ``latent_dim`` (otherwise latent_dim must equal the last
    feature map's size). code_activation: ``auto`` = relu (sigmoid under KL sparsity,
    linear under top-k)."""

    family: str = "conv"
    channels: tuple[int, ...] = (32, 64)
    kernel: int = 3
    downsample: str = "stride"
    upsample: str = "transpose"
    depth: int = 1
    bottleneck: bool = True
    activation: str = "relu"
    code_activation: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_conv_geometry(self, self.channels, self.kernel, self.downsample, self.upsample)
        check(self.depth >= 1, "depth", self.depth, "at least 1 conv per block")
        check_activation("activation", self.activation)
        check_code(self, self.code_activation)
        shape = code_shape(self, self.channels)
        if shape is not None and not self.bottleneck:
            c, h, w = shape
            check(
                self.latent_dim == c * h * w,
                "latent_dim",
                self.latent_dim,
                f"{c * h * w} (the last feature map, {c}x{h}x{w}) with bottleneck=false; "
                "set latent_dim to that or bottleneck=true",
            )


def check_conv_geometry(
    cfg: ModelConfig, channels: tuple[int, ...], kernel: int, downsample: str, upsample: str
) -> None:
    """Checks shared with the convolutional VAE: the kernel fits, the size halves evenly."""
    check(len(channels) >= 1, "channels", list(channels), "at least one block, e.g. [32, 64]")
    check_widths("channels", tuple(channels))
    check(kernel >= 1 and kernel % 2 == 1, "kernel", kernel, "an odd size >= 1 (3, 5, ...)")
    check_choice("downsample", downsample, ("stride", "pool"))
    check_choice("upsample", upsample, ("transpose", "upsample"))
    shape = image_shape(cfg, "conv")
    if shape is None:
        return
    _, h, w = shape
    factor = 2 ** len(channels)
    check(
        h % factor == 0 and w % factor == 0,
        "input_shape",
        list(shape),
        f"height and width divisible by {factor} (2 per block, {len(channels)} blocks); "
        "use fewer channels entries or resize the images (data.image_size)",
    )
    smallest = min(h, w) // (factor // 2)
    check(
        kernel <= smallest,
        "kernel",
        kernel,
        f"at most {smallest}, the smallest feature map a conv sees for input {h}x{w}",
    )


def code_shape(cfg: ModelConfig, channels: tuple[int, ...]) -> tuple[int, int, int] | None:
    """The last encoder feature map (C, H, W), or None before input_shape is known."""
    if cfg.input_shape is None:
        return None
    _, h, w = cfg.input_shape
    factor = 2 ** len(channels)
    return channels[-1], h // factor, w // factor


def conv_encoder(
    in_channels: int,
    channels: tuple[int, ...],
    kernel: int,
    downsample: str,
    activation: str,
    last: str,
    depth: int = 1,
) -> list[nn.Module]:
    """Blocks halving the size, each followed by ``depth - 1`` size-keeping convs; ``last``
    is the activation of the final block's last conv."""
    layers: list[nn.Module] = []
    stride = 2 if downsample == "stride" else 1
    pad = kernel // 2
    for i, out in enumerate(channels):
        final = i == len(channels) - 1
        layers.append(nn.Conv2d(in_channels, out, kernel, stride=stride, padding=pad))
        act = last if final and depth == 1 else activation
        if act != "identity":
            layers.append(make_activation(act))
        if downsample == "pool":
            layers.append(nn.MaxPool2d(2))
        for j in range(1, depth):
            layers.append(nn.Conv2d(out, out, kernel, padding=pad))
            act = last if final and j == depth - 1 else activation
            if act != "identity":
                layers.append(make_activation(act))
        in_channels = out
    return layers


def conv_decoder(
    channels: tuple[int, ...],
    out_channels: int,
    kernel: int,
    upsample: str,
    activation: str,
    depth: int = 1,
) -> list[nn.Module]:
    """The mirror of ``conv_encoder``: blocks of ``depth - 1`` size-keeping convs and one
    doubling the size, ending in logits."""
    sizes = [*channels[::-1], out_channels]
    layers: list[nn.Module] = []
    for i in range(len(channels)):
        cin, cout = sizes[i], sizes[i + 1]
        for _ in range(1, depth):
            layers += [
                nn.Conv2d(cin, cin, kernel, padding=kernel // 2),
                make_activation(activation),
            ]
        if upsample == "transpose":
            layers.append(
                nn.ConvTranspose2d(
                    cin, cout, kernel, stride=2, padding=kernel // 2, output_padding=1
                )
            )
        else:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            layers.append(nn.Conv2d(cin, cout, kernel, padding=kernel // 2))
        if i < len(channels) - 1:
            layers.append(make_activation(activation))
    return layers


@register_model("conv", ConvConfig)
class ConvAutoencoder(Autoencoder):
    config: ConvConfig

    def __init__(self, config: ConvConfig) -> None:
        super().__init__(config)
        c_in = self.input_shape[0]
        shape = code_shape(config, config.channels)
        assert shape is not None
        flat = shape[0] * shape[1] * shape[2]
        code_act = code_activation(config, config.code_activation, config.activation)
        last = config.activation if config.bottleneck else code_act
        encoder = conv_encoder(
            c_in,
            config.channels,
            config.kernel,
            config.downsample,
            config.activation,
            last,
            depth=config.depth,
        )
        decoder = conv_decoder(
            config.channels,
            c_in,
            config.kernel,
            config.upsample,
            config.activation,
            depth=config.depth,
        )
        encoder.append(nn.Flatten())
        if config.bottleneck:
            encoder.append(nn.Linear(flat, config.latent_dim))
            if code_act != "identity":
                encoder.append(make_activation(code_act))
            head = [nn.Linear(config.latent_dim, flat), make_activation(config.activation)]
        else:
            head = []
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*head, nn.Unflatten(1, shape), *decoder)
        self.init_weights()

    def describe_architecture(self) -> str:
        cfg = self.config
        c, h, w = self.input_shape
        blocks = "-".join(map(str, cfg.channels))
        code = f"dense {cfg.latent_dim}" if cfg.bottleneck else f"{cfg.latent_dim} (feature map)"
        depth = f" x{cfg.depth}" if cfg.depth > 1 else ""
        return (
            f"conv {c}x{h}x{w} channels {blocks}{depth} k{cfg.kernel} "
            f"{cfg.downsample}/{cfg.upsample}, code {code}"
        )
