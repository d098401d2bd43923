"""Exception hierarchy: every error a user can cause derives from AelabError.

Messages say what was wrong, what was expected, what was found and how to fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_PACKAGE = str(Path(__file__).resolve().parent)
# Frames a warning must not be attributed to: aelab itself, the dataclass machinery
# (``__post_init__`` runs from a generated ``__init__`` in ``<string>`` or from
# ``dataclasses.replace``).
_INTERNAL = (_PACKAGE, str(Path(dataclasses.__file__).resolve()))


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


class DependencyError(AelabError, ImportError):
    """An optional dependency a feature needs is not installed (the message names the extra)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' when a close match exists, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def one_line(reason: object, limit: int = 300) -> str:
    """A library's message (an exception or text) as one line of at most ``limit``
    characters: an aelab error quoting it stays one line."""
    text = " ".join(str(reason).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise a ConfigError naming the field, the value and the allowed range unless ``ok``."""
    if not ok:
        raise ConfigError(f"{name}={value!r} is invalid: expected {allowed}.")


INT64_MAX = 2**63 - 1


def check_numbers(config: Any) -> None:
    """Every integer in dataclass ``config`` (its fields and the items of its tuple fields)
    fits in 64 bits and every float is finite: the bounds every numeric field shares, so
    ``latent_dim=1e30`` or ``lr=inf`` is a ConfigError, not a traceback or a NaN loss."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, bool):
                continue
            if isinstance(item, int):
                check(
                    -INT64_MAX - 1 <= item <= INT64_MAX,
                    f.name,
                    value,
                    f"an integer that fits in 64 bits (at most {INT64_MAX:,})",
                )
            elif isinstance(item, float):
                check(math.isfinite(item), f.name, value, "a finite number")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise a ConfigError naming the field, the value and the choices, with a suggestion."""
    if value not in choices:
        hint = did_you_mean(str(value), choices)
        raise ConfigError(
            f"{name}={value!r} is invalid: expected one of {', '.join(choices)}.{hint}"
        )


def _internal(filename: str) -> bool:
    return filename.startswith("<") or str(Path(filename).resolve()).startswith(_INTERNAL)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the caller's line: the first frame outside aelab and the dataclass machinery
    (else, when every frame is aelab's as under ``python -m aelab``, at aelab's own line).

    A fixed ``stacklevel`` names the wrong line when a check is reached by more than one
    path (a config built directly, by ``dataclasses.replace``, by ``build_model``), and two
    paths then print the same warning twice; one location per call site lets Python's
    default filter show it once.
    """
    own = sys._getframe(1)
    frame = own.f_back
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
    frame = frame or own
    module_globals = frame.f_globals
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__", "<unknown>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
        module_globals=module_globals,
    )
