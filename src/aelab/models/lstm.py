"""Recurrent autoencoder: each image row is one step of an H-step sequence (C*W features).

Encoder: an LSTM over the rows; the code is its final hidden state (``latent = "hidden"``,
latent_dim = hidden) or a linear map of it (``latent = "linear"``). Decoder: an LSTM fed
the code at every step, then either a linear layer to the pixel logits
(``output = "linear"``) or, as R4's RNN-AE does, an LSTM whose hidden size is the row
width (``output = "lstm"``); its output y in (-1, 1) is read as the pixel (1 + y) / 2,
i.e. logits 2 * atanh(y), so the layers and parameters are R4's and pixels span [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aelab.errors import check, check_choice
from aelab.layers.activations import make_activation
from aelab.models.base import (
    Autoencoder,
    ModelConfig,
    check_code,
    check_widths,
    code_activation,
)
from aelab.models.registry import register_model


@dataclass(frozen=True)
class LSTMConfig(ModelConfig):
    """hidden: LSTM size. latent: ``hidden`` (final hidden state is the code) or ``linear``.
    output: ``linear`` (LSTM then a linear layer to the logits) or ``lstm`` (R4).
    code_activation: on a linear code (``auto`` = linear; sigmoid under KL sparsity)."""

    family: str = "lstm"
    hidden: int = 128
    latent: str = "linear"
    output: str = "linear"
    code_activation: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_widths("hidden", self.hidden)
        check_choice("latent", self.latent, ("hidden", "linear"))
        check_choice("output", self.output, ("linear", "lstm"))
        check_code(self, self.code_activation)
        if self.latent == "hidden":
            check(
                self.latent_dim == self.hidden,
                "latent_dim",
                self.latent_dim,
                f"{self.hidden} (= hidden) with latent='hidden'; or set latent='linear'",
            )
            check(
                self.code_activation == "auto" and self.sparsity.kind != "kl",
                "code_activation" if self.code_activation != "auto" else "sparsity.kind",
                self.code_activation if self.code_activation != "auto" else self.sparsity.kind,
                "'auto' and no KL sparsity with latent='hidden' (the code is the LSTM's "
                "tanh-bounded state); set latent='linear' to choose the code activation",
            )


@register_model("lstm", LSTMConfig)
class LSTMAutoencoder(Autoencoder):
    config: LSTMConfig
    eps = 1e-6

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__(config)
        c, h, w = self.input_shape
        self.steps, self.row = h, c * w
        self.encoder = nn.LSTM(self.row, config.hidden, batch_first=True)
        self.to_code: nn.Module = nn.Identity()
        if config.latent == "linear":
            act = code_activation(config, config.code_activation, "identity")
            layers = [nn.Linear(config.hidden, config.latent_dim)]
            if act != "identity":
                layers.append(make_activation(act))
            self.to_code = nn.Sequential(*layers)
        dec_hidden = self.row if config.output == "lstm" else config.hidden
        self.decoder = nn.LSTM(config.latent_dim, dec_hidden, batch_first=True)
        self.to_pixels: nn.Module = nn.Identity()
        if config.output == "linear":
            self.to_pixels = nn.Linear(config.hidden, self.row)
        self.init_weights()

    def features(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        rows = x.permute(0, 2, 1, 3).reshape(b, h, c * w)
        _, (h_n, _) = self.encoder(rows)
        return self.to_code(h_n[-1])

    def decode(self, z: Tensor) -> Tensor:
        c, h, w = self.input_shape
        out, _ = self.decoder(z.unsqueeze(1).expand(-1, self.steps, -1))
        if self.config.output == "lstm":
            logits = 2 * torch.atanh(out.clamp(-1 + self.eps, 1 - self.eps))
        else:
            logits = self.to_pixels(out)
        return logits.reshape(-1, h, c, w).permute(0, 2, 1, 3)

    def describe_architecture(self) -> str:
        cfg = self.config
        dec = self.row if cfg.output == "lstm" else cfg.hidden
        code = "" if cfg.latent == "hidden" else f" -> linear {cfg.latent_dim}"
        out = "" if cfg.output == "lstm" else f" -> linear {self.row}"
        return (
            f"lstm {self.steps} rows x {self.row}: LSTM {self.row}->{cfg.hidden}{code} | "
            f"LSTM {cfg.latent_dim}->{dec}{out}"
        )
