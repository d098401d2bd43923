"""Fixtures for the trainer tests: tiny data and the fault-injecting test double."""

from __future__ import annotations

import pytest
import training_doubles


@pytest.fixture
def faulty_family():
    """Registers ``tiny-faulty`` for one test only (other suites never see it)."""
    training_doubles.register()
    yield training_doubles.FAMILY
    training_doubles.unregister()
    training_doubles.FAULTS.update(nan_at=0, interrupt_at=0)


@pytest.fixture(scope="session")
def tiny():
    return training_doubles.tiny_data()
