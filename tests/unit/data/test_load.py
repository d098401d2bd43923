from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aelab.config import DataConfig
from aelab.data import Batcher, load_dataset
from aelab.data.prepared import prepared_dir
from aelab.errors import DataError
from fakedata import tiny_splits, write_idx_dataset


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    write_idx_dataset(tmp_path / "d", n_train=100, n_test=30, classes=5)
    return tmp_path / "d"


def _cfg(idx_dir: Path, **kw) -> DataConfig:
    return DataConfig(dataset=f"idx:{idx_dir}", **kw)


def test_validation_split_sizes_and_determinism(idx_dir: Path) -> None:
    a = load_dataset(_cfg(idx_dir, val_size=20), seed=3)
    b = load_dataset(_cfg(idx_dir, val_size=20), seed=3)
    c = load_dataset(_cfg(idx_dir, val_size=20), seed=4)
    assert (len(a.train), len(a.val), len(a.test)) == (80, 20, 30)
    np.testing.assert_array_equal(a.val.images, b.val.images)
    assert not np.array_equal(a.val.images, c.val.images)
    full = load_dataset(_cfg(idx_dir, validation="none"))
    # train and val partition the training set; test is untouched
    together = np.concatenate([a.train.images, a.val.images])
    assert sorted(map(bytes, together)) == sorted(map(bytes, full.train.images))
    np.testing.assert_array_equal(a.test.images, full.test.images)


def test_limits_keep_the_same_validation_set(idx_dir: Path) -> None:
    full = load_dataset(_cfg(idx_dir, val_size=20))
    small = load_dataset(_cfg(idx_dir, val_size=20, train_limit=10, test_limit=7))
    assert (len(small.train), len(small.val), len(small.test)) == (10, 20, 7)
    np.testing.assert_array_equal(small.val.images, full.val.images)
    np.testing.assert_array_equal(small.train.images, full.train.images[:10])


def test_val_limit_keeps_the_first_validation_images(idx_dir: Path) -> None:
    full = load_dataset(_cfg(idx_dir, val_size=20))
    small = load_dataset(_cfg(idx_dir, val_size=20, train_limit=10, val_limit=5))
    assert (len(small.train), len(small.val), len(small.test)) == (10, 5, 30)
    np.testing.assert_array_equal(small.val.images, full.val.images[:5])
    # validation on the test set: val_limit caps what is validated on, not the test split
    keras = load_dataset(_cfg(idx_dir, validation="test", val_limit=4))
    assert (len(keras.val), len(keras.test)) == (4, 30)
    np.testing.assert_array_equal(keras.val.images, keras.test.images[:4])


def test_validation_test_and_none(idx_dir: Path) -> None:
    assert load_dataset(_cfg(idx_dir, validation="test")).val is not None
    data = load_dataset(_cfg(idx_dir, validation="test"))
    assert data.val is data.test and len(data.train) == 100
    assert load_dataset(_cfg(idx_dir, validation="none")).val is None


def test_val_size_too_large(idx_dir: Path) -> None:
    with pytest.raises(
        DataError, match=r"val_size=10000 cannot be held out of 100 training images"
    ):
        load_dataset(_cfg(idx_dir))


def test_content_checksum_mismatch(idx_dir: Path) -> None:
    """Files under fashion-mnist's names whose content is not Fashion-MNIST are refused."""
    with pytest.raises(DataError, match=r"content checksum mismatch \(expected SHA-256 c59f468a"):
        load_dataset(DataConfig(dataset="fashion-mnist", data_dir=str(idx_dir)), download=False)


def test_prepared_cache_for_verified_files(tiny_source, mirror: Path, tmp_path: Path) -> None:
    cfg = DataConfig(dataset="tiny", data_dir=str(mirror), val_size=10)
    cold = load_dataset(cfg, download=False)
    entries = sorted(p.name for p in prepared_dir().iterdir())
    assert len(entries) == 4  # images + labels for train and test
    warm = load_dataset(cfg, download=False)
    np.testing.assert_array_equal(cold.train.images, warm.train.images)
    np.testing.assert_array_equal(cold.test.labels, warm.test.labels)
    # a changed source file gets a new key, never the stale entry
    write_idx_dataset(mirror, n_train=60, n_test=20, classes=10, seed=5)
    with pytest.raises(DataError, match="content checksum mismatch"):
        load_dataset(cfg, download=False)


def test_unverified_files_are_not_cached(idx_dir: Path) -> None:
    load_dataset(_cfg(idx_dir, validation="none"))
    assert not prepared_dir().exists()


def test_mmap_named_dataset(tiny_source, mirror: Path) -> None:
    cfg = DataConfig(dataset="tiny", data_dir=str(mirror), val_size=10, mmap=True)
    data = load_dataset(cfg, download=False)
    assert isinstance(data.train.images, np.memmap) and isinstance(data.test.images, np.memmap)
    plain = load_dataset(
        DataConfig(dataset="tiny", data_dir=str(mirror), val_size=10), download=False
    )
    np.testing.assert_array_equal(data.train.images, plain.train.images)
    np.testing.assert_array_equal(data.val.images, plain.val.images)
    mapped = torch.cat(list(Batcher(data.train.images, 16, seed=1)))
    in_memory = torch.cat(list(Batcher(torch.from_numpy(plain.train.images), 16, seed=1)))
    assert torch.equal(mapped, in_memory)


def test_mmap_refused_for_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.mmap is supported for"):
        load_dataset(DataConfig(dataset=f"folder:{tmp_path}", mmap=True))


def test_tiny_splits_has_learnable_structure() -> None:
    data = tiny_splits(n=200, shape=(3, 16, 16), classes=4, seed=1, val=20)
    assert data.shape == (3, 16, 16) and len(data.val) == 20
    x = data.train.images.reshape(len(data.train), -1).astype(float)
    centroids = np.stack([x[data.train.labels == k].mean(0) for k in range(4)])
    t = data.test.images.reshape(len(data.test), -1).astype(float)
    predicted = np.argmin(((t[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (predicted == data.test.labels).mean() > 0.9


def test_split_rejects_wrong_dtype() -> None:
    from aelab.data import Split

    with pytest.raises(DataError, match=r"dtype uint8 or float32, found shape .* float64"):
        Split(np.zeros((2, 1, 4, 4), np.float64))
    with pytest.raises(DataError, match=r"shape \(N, C, H, W\)"):
        Split(np.zeros((2, 16), np.float32))


def test_a_dataset_name_loads_train_and_test_as_published(tiny_source, mirror, monkeypatch):
    """``aelab.load_dataset("fashion-mnist")`` as the README writes it: a name (or any
    spec) is a DataConfig with no validation split; anything else is a one-line error."""
    import aelab

    monkeypatch.setenv("AELAB_DATA_DIR", str(mirror))  # the files themselves
    by_name = aelab.load_dataset("tiny", download=False)
    by_config = load_dataset(DataConfig(dataset="tiny", validation="none"), download=False)
    assert by_name.val is None and len(by_name.train) == 60 and len(by_name.test) == 20
    np.testing.assert_array_equal(by_name.train.images, by_config.train.images)
    with pytest.raises(DataError, match=r"expects a dataset name .* found dict"):
        load_dataset({"dataset": "tiny"})
