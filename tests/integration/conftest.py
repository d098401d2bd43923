"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh user cache, no $AELAB_DATA_DIR and the test's folder as the working folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
