"""Prepared arrays: parsed uint8 splits cached as ``.npy`` under the user cache.

``<cache>/prepared/<key>.images.npy`` and ``.labels.npy``, where the key hashes the
raw bytes of the source files plus how they were read, so a changed file never hits a
stale entry. A warm load reads the ``.npy`` (or memory-maps it: ``DataConfig.mmap``)
instead of decompressing and parsing. Entries are written atomically; the cache is an
optimisation, so a cache that cannot be written is skipped unless memory-mapping
needs it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from aelab.atomic import atomic_file, atomic_path
from aelab.data.resolve import cache_root
from aelab.errors import DataError, StorageError

VERSION = "1"  # bump when a reader's output changes


def prepared_dir() -> Path:
    return cache_root() / "prepared"


def file_key(paths: list[Path], *parts: str) -> str:
    """A key for arrays read from ``paths``: SHA-256 of their bytes and ``parts``."""
    digest = hashlib.sha256(VERSION.encode())
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:32]


def load(key: str, *, mmap: bool = False) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The arrays stored under ``key``, or None. Images are memory-mapped when ``mmap``."""
    images_path = prepared_dir() / f"{key}.images.npy"
    if not images_path.is_file():
        return None
    try:
        images = np.load(images_path, mmap_mode="r" if mmap else None, allow_pickle=False)
        labels_path = prepared_dir() / f"{key}.labels.npy"
        labels = np.load(labels_path, allow_pickle=False) if labels_path.is_file() else None
    except (OSError, ValueError):
        return None  # a damaged entry is rebuilt from the source files
    return images, labels


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_file(path) as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)


def save(
    key: str, images: np.ndarray, labels: np.ndarray | None, *, required: bool = False
) -> bool:
    """Store arrays under ``key``; returns whether it worked. ``required``: failing is an
    error (memory-mapping needs the entry)."""
    try:
        prepared_dir().mkdir(parents=True, exist_ok=True)
        if labels is not None:
            _save_array(prepared_dir() / f"{key}.labels.npy", labels)
        _save_array(prepared_dir() / f"{key}.images.npy", images)  # last: marks the entry complete
    except (OSError, StorageError) as exc:
        if required:
            raise DataError(
                f"cannot write prepared arrays to {prepared_dir()} ({exc}); data.mmap needs a "
                "writable cache: set XDG_CACHE_HOME to a writable folder or turn mmap off."
            ) from None
        return False
    return True


def take_mapped(images: np.memmap, index: np.ndarray, tag: str) -> np.ndarray:
    """``images[index]`` as a memory-mapped array in the cache, copied in chunks, so a
    subset of a mapped dataset never has to fit in memory. ``tag`` names the subset."""
    source = Path(images.filename)
    stat = source.stat()
    key = hashlib.sha256(
        f"{VERSION}\0{source}\0{stat.st_size}\0{stat.st_mtime_ns}\0{tag}".encode()
    ).hexdigest()[:32]
    path = prepared_dir() / f"{key}.images.npy"
    if not path.is_file():
        try:
            prepared_dir().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot create {prepared_dir()} for memory-mapped splits ({exc})."
            ) from None
        try:
            with atomic_path(path) as tmp:
                out = np.lib.format.open_memmap(
                    tmp, mode="w+", dtype=np.uint8, shape=(len(index), *images.shape[1:])
                )
                for start in range(0, len(index), 4096):
                    out[start : start + 4096] = images[index[start : start + 4096]]
                out.flush()
                del out
        except (OSError, StorageError) as exc:
            raise DataError(
                f"cannot write a memory-mapped split to {prepared_dir()} ({exc})."
            ) from None
    return np.load(path, mmap_mode="r")
