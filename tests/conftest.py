"""Shared test fixtures. Tests generate their own small data; real-data tests skip
(with the reason) when the files are absent."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

# Tests are small: one intra-op thread keeps them fast and deterministic on 2 cores.
torch.set_num_threads(1)


def pytest_configure(config: pytest.Config) -> None:
    """A fresh user cache per test process, and one Ray auth token per test process whatever
    ``$HOME`` says. Ray caches the token of a process's first ``ray.init`` and its servers
    read ``~/.ray/auth_token``: the README doctest runs Ray examples under a fresh ``$HOME``,
    and a later local Ray in the same worker then started a GCS that refused the cached
    token (InvalidAuthToken)."""
    folder = Path(tempfile.mkdtemp(prefix="aelab-tests-"))
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    # The user's cache (datasets, prepared arrays, cached baselines) is neither read nor
    # filled by the tests: one empty cache per test process, as on a fresh machine.
    os.environ["XDG_CACHE_HOME"] = str(folder / "cache")
    if "RAY_AUTH_TOKEN_PATH" in os.environ or "RAY_AUTH_TOKEN" in os.environ:
        return
    token = folder / "ray_auth_token"
    token.write_text(secrets.token_hex(32), encoding="utf-8")
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)


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
