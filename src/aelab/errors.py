"""Exception hierarchy: every error a user can cause derives from AelabError.

Messages say what was wrong, what was expected, what was found and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class AelabError(Exception):
    """Base class of every error aelab raises on bad input."""


class ConfigError(AelabError, ValueError):
    """A configuration value, key, preset or override is invalid."""


class DataError(AelabError):
    """A dataset is missing, corrupt, or does not match what was expected."""


class CheckpointError(AelabError):
    """A checkpoint or run directory is missing, corrupt or incompatible."""


class StorageError(AelabError):
    """A file could not be written (disk full): a runtime failure, not a user mistake."""


class TrainingError(AelabError):
    """Training cannot go on (for example the loss became NaN)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' when a close match exists, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def check(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise a ConfigError naming the field, the value and the allowed range unless ``ok``."""
    if not ok:
        raise ConfigError(f"{name}={value!r} is invalid: expected {allowed}.")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise a ConfigError naming the field, the value and the choices, with a suggestion."""
    if value not in choices:
        hint = did_you_mean(str(value), choices)
        raise ConfigError(
            f"{name}={value!r} is invalid: expected one of {', '.join(choices)}.{hint}"
        )
