"""Activation functions by name, so configs can say ``activation = "relu"``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from aelab.errors import ConfigError, did_you_mean

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def check_activation(field: str, name: str) -> None:
    """Raise a ConfigError naming ``field`` unless ``name`` is a known activation."""
    if name not in ACTIVATIONS:
        raise ConfigError(
            f"{field}={name!r} is invalid: expected one of {', '.join(ACTIVATIONS)}."
            + did_you_mean(name, ACTIVATIONS)
        )


def make_activation(name: str) -> nn.Module:
    check_activation("activation", name)
    return ACTIVATIONS[name]()
