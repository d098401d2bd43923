"""A small registry of model families, like timm's: name -> (config class, module class).

The built-in families register when their modules are imported; a lookup imports them
by name first (``BUILTIN``), so code that only needs the registry never imports a family
statically and the registry has no import cycle with the families that use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from aelab.errors import ConfigError, did_you_mean
from aelab.models.base import Autoencoder, ModelConfig

BUILTIN = ("aelab.models.dense", "aelab.models.conv", "aelab.models.lstm", "aelab.models.vae")

_FAMILIES: dict[str, tuple[type[ModelConfig], type[Autoencoder]]] = {}

M = TypeVar("M", bound=type[Autoencoder])


def register_model(name: str, config_class: type[ModelConfig]) -> Callable[[M], M]:
    """Class decorator: ``@register_model("dense", DenseConfig)``. Names are unique."""

    def decorator(cls: M) -> M:
        if name in _FAMILIES:
            raise ValueError(
                f"model family '{name}' is already registered (by {_FAMILIES[name][1].__name__}); "
                "pick another name."
            )
        _FAMILIES[name] = (config_class, cls)
        cls.family = name
        return cls

    return decorator


def _lookup(name: str) -> tuple[type[ModelConfig], type[Autoencoder]]:
    load_families()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"model.family={name!r} is unknown; known families: {', '.join(list_models())}."
            + did_you_mean(name, _FAMILIES)
        ) from None


def load_families() -> None:
    """Import the built-in family modules (each registers itself on import)."""
    for module in BUILTIN:
        importlib.import_module(module)


def list_models() -> list[str]:
    load_families()
    return sorted(_FAMILIES)


def config_class(name: str) -> type[ModelConfig]:
    return _lookup(name)[0]


def create_model(config: ModelConfig) -> Autoencoder:
    """Build the module for ``config`` (``config.input_shape`` must be set)."""
    return _lookup(config.family)[1](config)
