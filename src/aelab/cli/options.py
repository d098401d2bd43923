"""Options and output shared by the subcommands: ``--json``, checked ``--out`` paths and
the status logger.

Results (tables, ``--json``) go to stdout; status lines go through :data:`log` (stderr,
silenced by ``--quiet``; see ``main.setup_logging``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("aelab.cli")


# --------------------------------------------------------------------------- --json


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout (for scripts)"
    )


def print_json(payload: Any) -> None:
    """``payload`` as indented JSON on stdout; NumPy scalars and paths become plain values."""
    json.dump(payload, sys.stdout, indent=2, default=_plain)
    sys.stdout.write("\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, (Path, os.PathLike)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------- --out


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (``.`` at worst)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _check_writable_folder(folder: Path, text: str, what: str) -> None:
    """``folder`` (the one ``text`` will be written in) or its nearest existing ancestor
    must be a folder this user can write to."""
    anchor = _first_existing(folder)
    if not anchor.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text} is under {anchor}, which is a file, not a folder; choose a {what} whose "
            "parents are folders."
        )
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"{text}: the folder {anchor} is not writable by this user; choose a {what} "
            "somewhere you can write, or fix its permissions."
        )


def out_dir(text: str) -> str:
    """argparse ``type=`` of an output folder: not a file, not under a file, writable."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text} is a file, expected a folder (new or existing); choose another path or "
            "remove the file."
        )
    _check_writable_folder(path, text, "folder")
    return text


def out_file(example: str) -> Callable[[str], str]:
    """argparse ``type=`` of an output file (``example``: a file name for the message):
    not a folder, not under a file, in a writable folder."""

    def check(text: str) -> str:
        path = Path(text).expanduser()
        if path.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text} is a folder, expected a file path; add a file name, e.g. "
                f"{Path(text) / example}."
            )
        _check_writable_folder(path.parent, text, "file")
        return text

    return check


__all__ = ["add_json_option", "log", "out_dir", "out_file", "print_json"]
