"""A small registry of model families, like timm's: name -> (config class, module class).

Three kinds of family register here, all the same way (``@register_model(name, Config)``):

- the built-in families, imported by name on the first lookup (``BUILTIN``), so code that
  only needs the registry never imports a family statically (no import cycle);
- families registered from user code (a notebook, a script) with ``aelab.register_model``;
- installed plugins: distributions that declare an entry point in the group
  ``aelab.models`` (value: a module, or ``module:object``, whose import registers one or
  more families). They are imported lazily, the first time a name is not found or the
  list of families is asked for, so ``aelab --help`` never imports them.

Each family remembers the distribution that provides it (:func:`family_distribution`), so
a run directory can say which plugin to install when its family is missing. Configs and
run directories only ever hold a family *name*: code runs only from installed packages.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import TypeVar

from aelab.errors import ConfigError, did_you_mean
from aelab.models.base import Autoencoder, ModelConfig

BUILTIN = (
    "aelab.models.dense",
    "aelab.models.conv",
    "aelab.models.lstm",
    "aelab.models.vae",
    "aelab.models.modules",
)
PLUGIN_GROUP = "aelab.models"

_FAMILIES: dict[str, tuple[type[ModelConfig], type[Autoencoder]]] = {}
_DISTRIBUTIONS: dict[str, str] = {}  # family -> the distribution that registered it
_PLUGIN_ERRORS: dict[str, str] = {}  # entry point -> why it failed to import
_UNLISTED: set[str] = set()  # families a config alone cannot build (``modules``)
_plugins_loaded = False

M = TypeVar("M", bound=type[Autoencoder])


def register_model(
    name: str, config_class: type[ModelConfig], *, listed: bool = True
) -> Callable[[M], M]:
    """Class decorator: ``@register_model("dense", DenseConfig)``. Names are unique.

    ``listed=False``: a family that a config alone cannot build (``modules`` wraps the
    user's own nn.Modules); its configs still parse and its runs still load given the
    model, but :func:`list_models` (what a config may name) leaves it out.

    ``config_class`` subclasses :class:`ModelConfig` with ``family`` defaulting to ``name``
    (so a TOML ``[model]`` table with ``family = name`` builds it; the bare
    :class:`ModelConfig` is allowed for families with no fields of their own, which then
    pass ``family=name`` explicitly); the decorated class subclasses :class:`Autoencoder`.
    """
    if not (isinstance(config_class, type) and issubclass(config_class, ModelConfig)):
        raise TypeError(
            f"register_model({name!r}, ...): the config class must subclass "
            f"aelab.ModelConfig, found {config_class!r}."
        )
    default = getattr(config_class, "family", None)
    if config_class is not ModelConfig and default != name:
        raise ConfigError(
            f"register_model({name!r}, {config_class.__name__}): the config's family field "
            f"defaults to {default!r}; declare `family: str = {name!r}` in "
            f"{config_class.__name__} so saved configs name this family."
        )

    def decorator(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, Autoencoder)):
            raise TypeError(
                f"@register_model({name!r}) decorates {cls!r}; expected a subclass of "
                "aelab.Autoencoder."
            )
        if name in _FAMILIES:
            raise ValueError(
                f"model family '{name}' is already registered (by {_FAMILIES[name][1].__name__}); "
                "pick another name."
            )
        _FAMILIES[name] = (config_class, cls)
        if not listed:
            _UNLISTED.add(name)
        cls.family = name
        dist = _module_distribution(cls.__module__)
        if dist is not None:
            _DISTRIBUTIONS[name] = dist
        return cls

    return decorator


def _module_distribution(module: str) -> str | None:
    """The installed distribution that ships ``module`` (None for aelab's own families and
    for code outside an installed package, such as ``__main__``)."""
    top = module.partition(".")[0]
    if top == "aelab":
        return None
    names = metadata.packages_distributions().get(top) or []
    return names[0] if names else None


def _lookup(name: str) -> tuple[type[ModelConfig], type[Autoencoder]]:
    load_families()
    if name not in _FAMILIES:
        load_plugins()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"model.family={name!r} is unknown; known families: {', '.join(list_models())}."
            + did_you_mean(name, _FAMILIES)
            + _plugin_errors_note()
        ) from None


def _plugin_errors_note() -> str:
    if not _PLUGIN_ERRORS:
        return ""
    failed = "; ".join(f"{ep}: {why}" for ep, why in _PLUGIN_ERRORS.items())
    return f" Plugins that failed to import: {failed}."


def load_families() -> None:
    """Import the built-in family modules (each registers itself on import)."""
    for module in BUILTIN:
        importlib.import_module(module)


def load_plugins() -> None:
    """Import every installed ``aelab.models`` entry point once. A plugin that fails to
    import is reported (a warning now, and in the unknown-family error) but does not stop
    the built-in families from working."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        before = set(_FAMILIES)
        try:
            ep.load()
        except Exception as exc:  # a broken third-party plugin: any error it raises
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            _PLUGIN_ERRORS[f"{ep.name} = {ep.value}"] = why
            warnings.warn(
                f"aelab plugin {ep.name!r} ({ep.value}) failed to import ({why}); its model "
                "families are unavailable. Reinstall or uninstall it.",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        if ep.dist is not None:
            for family in set(_FAMILIES) - before:
                _DISTRIBUTIONS[family] = ep.dist.name


def is_registered(name: str) -> bool:
    """Whether family ``name`` is known (built-in, registered in this process, or from an
    installed plugin), without raising."""
    load_families()
    if name not in _FAMILIES:
        load_plugins()
    return name in _FAMILIES


def family_distribution(name: str) -> str | None:
    """The distribution (``pip install`` name) that provides family ``name``; None for the
    built-in families and for families registered from code outside a package."""
    _lookup(name)
    return _DISTRIBUTIONS.get(name)


def list_models() -> list[str]:
    """The families a config can name (``model.family``), sorted."""
    load_families()
    load_plugins()
    return sorted(set(_FAMILIES) - _UNLISTED)


def config_class(name: str) -> type[ModelConfig]:
    return _lookup(name)[0]


def create_model(config: ModelConfig) -> Autoencoder:
    """Build the module for ``config`` (``config.input_shape`` must be set)."""
    return _lookup(config.family)[1](config)
