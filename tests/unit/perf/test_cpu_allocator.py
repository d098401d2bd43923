"""The CPU allocator tuning applies once on Linux/glibc and can be switched off."""

from __future__ import annotations

import platform

import pytest

from aelab.training import device


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setattr(device, "_MALLOC_TUNED", False)
    monkeypatch.setenv("AELAB_MALLOC_TUNING", "0")
    assert device.tune_cpu_allocator() is False


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_applies_on_glibc_and_is_idempotent(monkeypatch):
    monkeypatch.delenv("AELAB_MALLOC_TUNING", raising=False)
    assert device.tune_cpu_allocator() is True
    assert device.tune_cpu_allocator() is True
