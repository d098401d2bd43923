"""Data-layer fixtures: an isolated cache and environment, and a registered tiny IDX
dataset whose checksums are those of generated files."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from aelab.data import sources
from aelab.data.sources import DataFile, Source
from fakedata import write_idx_dataset


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user cache or honours a real $AELAB_DATA_DIR."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    return cache / "aelab"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A folder holding a tiny IDX dataset, as a mirror would serve it."""
    folder = tmp_path / "mirror"
    write_idx_dataset(folder, n_train=60, n_test=20, classes=10)
    return folder


@pytest.fixture
def tiny_source(mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Source:
    """A registered dataset ``tiny`` whose canonical files are those in ``mirror``."""
    files = []
    for role, stem in (
        ("train_images", "train-images-idx3-ubyte"),
        ("train_labels", "train-labels-idx1-ubyte"),
        ("test_images", "t10k-images-idx3-ubyte"),
        ("test_labels", "t10k-labels-idx1-ubyte"),
    ):
        raw = (mirror / f"{stem}.gz").read_bytes()
        files.append(
            DataFile(
                role,
                f"{stem}.gz",
                hashlib.md5(raw).hexdigest(),
                hashlib.sha256(gzip.decompress(raw)).hexdigest(),
            )
        )
    source = Source(
        name="tiny",
        format="idx",
        files=tuple(files),
        mirrors=("http://127.0.0.1:9/unreachable/",),
        classes=tuple(str(i) for i in range(10)),
        shape=(1, 28, 28),
        num_train=60,
        num_test=20,
        system_dirs=(str(tmp_path / "system" / "tiny"),),
        apt_package="dataset-tiny",
    )
    monkeypatch.setitem(sources.SOURCES, "tiny", source)
    return source
