"""Named presets: one small TOML per reference model (package data), loaded as RunConfigs.

Each preset reproduces a reference system of ``docs/reference-systems.md`` (R1-R5); its file
says, in comments, where the reference left a value open and what was chosen.

Installed plugins ship presets too: an entry point in the group ``aelab.presets`` names a
package whose directory holds ``*.toml`` files (:func:`plugin_presets`). They are listed
and loaded like the built-in ones; a plugin preset never replaces a built-in one.
"""

from __future__ import annotations

import dataclasses
import warnings
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

from aelab.errors import ConfigError, did_you_mean

if TYPE_CHECKING:  # aelab.config imports torch (via the models): only load_preset needs it
    from aelab.config import RunConfig

_SUFFIX = ".toml"
PLUGIN_GROUP = "aelab.presets"
BUILTIN_SOURCE = "aelab"


def _tomls(root) -> dict[str, Path]:
    return {
        entry.name[: -len(_SUFFIX)]: Path(str(entry))
        for entry in root.iterdir()
        if entry.name.endswith(_SUFFIX)
    }


def builtin_presets() -> dict[str, Path]:
    """The presets shipped with aelab: name -> TOML file."""
    return _tomls(resources.files(__name__))


def plugin_presets() -> dict[str, tuple[Path, str]]:
    """Presets of installed plugins: name -> (TOML file, distribution). A name already
    taken (by aelab or an earlier plugin) is skipped with a warning naming both."""
    taken = set(builtin_presets())
    found: dict[str, tuple[Path, str]] = {}
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        dist = ep.dist.name if ep.dist is not None else ep.value
        try:
            root = resources.files(ep.module)
        except (ImportError, TypeError) as exc:
            warnings.warn(
                f"aelab preset plugin {ep.name!r} ({ep.value}, from {dist}) cannot be read "
                f"({exc}); its presets are unavailable.",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        for name, path in sorted(_tomls(root).items()):
            if name in taken or name in found:
                owner = found[name][1] if name in found else BUILTIN_SOURCE
                warnings.warn(
                    f"preset {name!r} of {dist} is ignored: {owner} already provides a "
                    "preset of that name.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            found[name] = (path, dist)
    return found


def preset_sources() -> dict[str, str]:
    """Every preset's source, sorted by name: ``aelab`` or the plugin's distribution."""
    sources = dict.fromkeys(builtin_presets(), BUILTIN_SOURCE)
    sources |= {name: dist for name, (_, dist) in plugin_presets().items()}
    return dict(sorted(sources.items()))


def list_presets() -> list[str]:
    """The names of every preset (shipped and from installed plugins), sorted."""
    return list(preset_sources())


def preset_path(name: str) -> Path:
    """The TOML file of preset ``name``; a ConfigError with a 'did you mean' if unknown."""
    builtin = builtin_presets()
    if name in builtin:
        return builtin[name]
    plugins = plugin_presets()
    if name in plugins:
        return plugins[name][0]
    known = sorted([*builtin, *plugins])
    raise ConfigError(
        f"preset {name!r} is unknown; known presets: {', '.join(known)}."
        + did_you_mean(name, known)
        + " List them with `aelab presets`."
    )


def load_preset(name: str) -> RunConfig:
    """The RunConfig of preset ``name`` (``preset`` field set to the name)."""
    from aelab.config import RunConfig, from_dict, load_toml

    path = preset_path(name)
    try:
        cfg = from_dict(RunConfig, load_toml(path))
    except ConfigError as exc:
        raise ConfigError(f"preset {name!r} ({path}): {exc}") from None
    return dataclasses.replace(cfg, preset=name)


__all__ = [
    "builtin_presets",
    "list_presets",
    "load_preset",
    "plugin_presets",
    "preset_path",
    "preset_sources",
]
