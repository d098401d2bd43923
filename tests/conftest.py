"""Shared test fixtures. Tests generate their own small data; real-data tests skip
(with the reason) when the files are absent."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

# Tests are small: one intra-op thread keeps them fast and deterministic on 2 cores.
torch.set_num_threads(1)


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(name, nth=1)``: os.write fails with ENOSPC halfway through the ``nth``
    temp file written for ``name`` (an atomic write of it), as a full disk would."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file a descriptor writes")
    real = os.write

    def arm(name: str, nth: int = 1) -> None:
        seen: list[str] = []

        def write(fd, data):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if Path(target).name.startswith(f".{name}."):
                if target not in seen:
                    seen.append(target)
                if len(seen) == nth:
                    real(fd, bytes(data[: len(data) // 2]))
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real(fd, data)

        monkeypatch.setattr(os, "write", write)

    return arm
