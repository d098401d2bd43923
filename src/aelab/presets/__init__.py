"""Named presets: one small TOML per reference model (package data), loaded as RunConfigs.

Each preset reproduces a reference system of ``REFERENCE-SYSTEMS.md`` (R1-R5); its file
says, in comments, where the reference left a value open and what was chosen.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from aelab.errors import ConfigError, did_you_mean

if TYPE_CHECKING:  # aelab.config imports torch (via the models): only load_preset needs it
    from aelab.config import RunConfig

_SUFFIX = ".toml"


def list_presets() -> list[str]:
    """The names of every shipped preset, sorted."""
    root = resources.files(__name__)
    return sorted(
        entry.name[: -len(_SUFFIX)] for entry in root.iterdir() if entry.name.endswith(_SUFFIX)
    )


def preset_path(name: str) -> Path:
    """The TOML file of preset ``name``; a ConfigError with a 'did you mean' if unknown."""
    known = list_presets()
    if name not in known:
        raise ConfigError(
            f"preset {name!r} is unknown; known presets: {', '.join(known)}."
            + did_you_mean(name, known)
            + " List them with `aelab presets`."
        )
    return Path(str(resources.files(__name__).joinpath(name + _SUFFIX)))


def load_preset(name: str) -> RunConfig:
    """The RunConfig of preset ``name`` (``preset`` field set to the name)."""
    from aelab.config import RunConfig, from_dict, load_toml

    path = preset_path(name)
    try:
        cfg = from_dict(RunConfig, load_toml(path))
    except ConfigError as exc:
        raise ConfigError(f"preset {name!r} ({path}): {exc}") from None
    return dataclasses.replace(cfg, preset=name)


__all__ = ["list_presets", "load_preset", "preset_path"]
