"""A JSON cache for scores that depend on the data alone, never on a model: the baselines.

``<user cache>/baselines/<dataset>-<key>-<name>.json``, where ``key`` hashes the arrays the
scores were computed from (dtype, shape and bytes) and the settings they depend on (the
protocol, seeds, library versions): other data or settings miss the cache, never read a
stale entry. A damaged or unreadable entry is computed again and rewritten; a cache that
cannot be written costs the time to recompute, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from aelab.atomic import atomic_write_text
from aelab.data.resolve import cache_root

FOLDER = "baselines"


def library_version(package: str) -> str:
    """An installed package's version without importing it (scikit-learn costs ~2 s)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def content_key(arrays: Iterable[np.ndarray], settings: dict[str, Any]) -> str:
    """A hash of ``arrays`` (dtype, shape and bytes, in order) and ``settings`` (JSON)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def cache_path(dataset: str, key: str, name: str) -> Path:
    """``<cache>/baselines/<dataset>-<key>-<name>.json`` (the dataset's name made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset).strip("_")[:48] or "data"
    return cache_root() / FOLDER / f"{safe}-{key}-{name}.json"


def read_cached(path: Path, valid: Callable[[Any], bool]) -> Any | None:
    """The ``scores`` stored at ``path`` when present and ``valid``, else None."""
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))["scores"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: computed again and rewritten
    return scores if valid(scores) else None


def write_cached(path: Path, scores: Any, say: Callable[[str], None], **extra: Any) -> None:
    """Store ``scores`` (and ``extra`` fields, for a reader) at ``path``; a failure is said."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({**extra, "scores": scores}, indent=1))
    except OSError as exc:
        say(f"could not cache the baseline in {path} ({exc}); it is computed again next time")


__all__ = ["cache_path", "content_key", "library_version", "read_cached", "write_cached"]
