"""Atomic file writes: the one way aelab writes a file that a reader or a killed process
must never see half written.

A write goes to a new temp file beside the target, created with ``O_EXCL`` by
:func:`tempfile.mkstemp` (so a symlink planted at a predictable name is never followed),
named ``.<name>.<random>.tmp``; it is written, fsynced and renamed over the target, and
the folder is fsynced. On any failure the temp file is removed and the target is left as
it was. A full disk raises :class:`StorageError` naming the device and the file.

This module sits at the bottom of the package (config, data and viz write through it);
:mod:`aelab.rundir` re-exports it for the run directory's writers.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aelab.errors import StorageError

TEMP_SUFFIX = ".tmp"
CHUNK = 1 << 20
# Temp names this module writes (.<name>.<random>.tmp) and older releases wrote
# (.<name>.tmp<pid>, .<stem>.<pid>.tmp.png, config.toml.tmp): what remove_stale_temps deletes.
_TEMP_NAME = re.compile(r"^\..+\.tmp(\d*|\.png)$|^[^.].*\.toml\.tmp$")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class _Writer:
    """What :func:`atomic_file` yields: ``write(data)`` writes all of ``data`` to the temp file."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self.fd, view[done : done + CHUNK])
        return done


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A new empty temp file beside ``path`` for the block to fill by name (a memory map);
    fsynced and renamed over ``path`` when the block succeeds, removed when it fails."""
    path = Path(path)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        try:
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give what open() would
        finally:
            os.close(fd)
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise StorageError(
                f"no space left on {device_of(path.parent)} while writing {path}"
            ) from None
        raise
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[_Writer]:
    """Replace ``path`` with what the block writes, all at once or not at all."""
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            yield _Writer(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files killed writers left in ``folder`` (not recursive); returns them.

    Call it only while no other process can be writing there (a run holds its lock)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if _TEMP_NAME.match(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def device_of(path: str | Path) -> str:
    """The mount point holding ``path`` (what a user knows as the disk), e.g. ``/home``."""
    path = Path(path).resolve()
    try:
        dev = path.stat().st_dev
        while path.parent != path and path.parent.stat().st_dev == dev:
            path = path.parent
    except OSError:
        pass
    return str(path)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
