"""Weight initialisation schemes.

``torch`` keeps PyTorch's defaults. ``keras`` reproduces Keras' defaults for parity runs:
Glorot-uniform kernels and zero biases for Dense/Conv layers; for LSTMs Glorot-uniform
input kernels, orthogonal recurrent kernels and zero biases except the forget gate's,
which starts at 1 (Keras' ``unit_forget_bias=True``).
"""

from __future__ import annotations

import torch
from torch import nn


def _keras_lstm(lstm: nn.LSTM) -> None:
    hidden = lstm.hidden_size
    for name, param in lstm.named_parameters():
        if name.startswith("weight_ih"):
            # Keras draws one Glorot matrix over the fused (input, 4 * units) kernel.
            nn.init.xavier_uniform_(param)
        elif name.startswith("weight_hh"):
            for gate in param.data.split(hidden, dim=0):
                nn.init.orthogonal_(gate)
        elif name.startswith("bias"):
            nn.init.zeros_(param)
            if name.startswith("bias_ih"):
                # PyTorch's gate order is (input, forget, cell, output).
                param.data[hidden : 2 * hidden] = 1.0


def _keras(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            _keras_lstm(module)


def _torch(model: nn.Module) -> None:
    """PyTorch initialises layers when they are built: nothing to do."""


SCHEMES = {"torch": _torch, "keras": _keras}


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str) -> None:
    """Initialise ``model`` in place with ``scheme`` (``torch`` or ``keras``)."""
    SCHEMES[scheme](model)
