"""A small registry of model families, like timm's: name -> (config class, module class)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aelab.config import ModelConfig
from aelab.errors import ConfigError, did_you_mean
from aelab.models.base import Autoencoder

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
    import aelab.models  # noqa: F401  (importing the package registers every family)

    try:
        return _FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"model.family={name!r} is unknown; known families: {', '.join(list_models())}."
            + did_you_mean(name, _FAMILIES)
        ) from None


def list_models() -> list[str]:
    import aelab.models  # noqa: F401

    return sorted(_FAMILIES)


def config_class(name: str) -> type[ModelConfig]:
    return _lookup(name)[0]


def create_model(config: ModelConfig) -> Autoencoder:
    """Build the module for ``config`` (``config.input_shape`` must be set)."""
    return _lookup(config.family)[1](config)
