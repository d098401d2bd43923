"""as_splits: arrays, tensors and torch datasets -> splits; LoaderSource batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from aelab.data import (
    Batcher,
    DatasetSplits,
    LoaderSource,
    Stream,
    StreamSplits,
    as_splits,
    is_image,
)
from aelab.errors import ConfigError, DataError


class Rows(Dataset):
    """A map-style dataset of (x, y) items, x float32 (D,) in [0, 1]."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.x[i]), int(self.y[i])


class RowStream(IterableDataset):
    """``n`` rows of ``dim`` uniform values from a seeded generator, never materialised."""

    def __init__(self, n: int, dim: int, seed: int = 0) -> None:
        self.n, self.dim, self.seed = n, dim, seed

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(self.n):
            yield torch.rand(self.dim, generator=gen)


def features(n: int = 100, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, d), dtype=np.float32)


# --------------------------------------------------------------------------- arrays


def test_float_features_stay_float_and_flat_vectors_become_1x1xd() -> None:
    x = features(100, 6)
    data = as_splits(x, val_size=20, seed=3)
    assert isinstance(data, DatasetSplits)
    assert data.shape == (1, 1, 6) and not data.is_image
    assert data.train.images.dtype == np.float32
    assert (len(data.train), len(data.val), len(data.test)) == (70, 20, 10)
    # no quantisation: every row is one of the inputs, bit for bit
    every = np.concatenate([s.images for s in (data.train, data.val, data.test)])
    rows = {r.tobytes() for r in x}
    assert {r.reshape(-1).tobytes() for r in every} == rows


def test_uint8_images_keep_the_uint8_path_and_labels() -> None:
    x = np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8)
    y = np.arange(50) % 5
    data = as_splits(torch.from_numpy(x), labels=torch.from_numpy(y), val_size=0)
    assert data.train.images.dtype == np.uint8 and data.shape == (1, 8, 8) and data.is_image
    assert data.val is None and data.classes == tuple("01234")
    assert sorted(np.concatenate([data.train.labels, data.test.labels])) == sorted(y)


def test_same_seed_same_split_other_seed_other_split() -> None:
    x = features(200)
    a, b, c = (as_splits(x, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.val.images, b.val.images)
    assert not np.array_equal(a.val.images, c.val.images)
    assert np.array_equal(a.test.images, c.test.images)  # the test split does not move


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.full((10, 4), 1.5, np.float32), r"range from 1\.5 to 1\.5, expected \[0, 1\]"),
        (np.zeros((10, 4), np.int64), "dtype int64, expected uint8"),
        (np.zeros((10, 2, 3, 4, 5), np.uint8), "shape"),
    ],
)
def test_bad_arrays_are_one_clear_error(x, message) -> None:
    with pytest.raises(DataError, match=message):
        as_splits(x)


def test_bad_val_size_and_labels_on_datasets() -> None:
    with pytest.raises(DataError, match="val_size=500 cannot be held out of 90"):
        as_splits(features(100), val_size=500)
    with pytest.raises(DataError, match="cannot be split for validation"):
        as_splits(RowStream(10, 4), val_size=5)
    with pytest.raises(DataError, match="labels= is for arrays"):
        as_splits(Rows(features(10), np.zeros(10)), labels=np.zeros(10))
    with pytest.raises(DataError, match="cannot train on dict"):
        as_splits({"x": 1})


def test_is_image() -> None:
    assert is_image((1, 28, 28)) and is_image((3, 2, 2))
    assert not is_image((1, 1, 784)) and not is_image((1, 28, 1))


# --------------------------------------------------------------------------- torch datasets


def test_map_style_dataset_streams_with_held_out_test_and_validation_parts() -> None:
    x = features(100, 5)
    data = as_splits(Rows(x, np.zeros(100)), val_size=0.2, seed=0)
    assert isinstance(data, StreamSplits) and data.shape == (1, 1, 5)
    assert (data.train.num_samples, data.val.num_samples, data.test.num_samples) == (72, 18, 10)
    parts = [set(s.indices) for s in (data.train, data.val, data.test)]
    assert set.union(*parts) == set(range(100)) and sum(map(len, parts)) == 100
    again = as_splits(Rows(x, np.zeros(100)), val_size=0.2, seed=1)
    assert set(again.test.indices) == parts[2]  # the test part never depends on the seed
    given = as_splits(Rows(x, np.zeros(100)), val_size=0, test=Rows(x[:7], np.zeros(7)))
    assert given.train.num_samples == 100 and given.test.num_samples == 7


def test_iterable_and_loader_shapes_from_the_first_item() -> None:
    assert as_splits(RowStream(10, 12)).shape == (1, 1, 12)
    images = TensorDataset(torch.zeros(10, 3, 4, 4, dtype=torch.uint8))
    loader = as_splits(DataLoader(images, batch_size=4))
    assert loader.shape == (3, 4, 4) and loader.val is None


def test_tensor_dataset_batches_equal_the_in_memory_batcher() -> None:
    """Same (seed, epoch) -> the same batches whether in memory or through a DataLoader."""
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (103, 1, 4, 4), np.uint8))
    stream = Stream(TensorDataset(x, torch.zeros(103)), (1, 4, 4))
    for epoch in (1, 2):
        memory = Batcher(x, 16, seed=7)
        loader = LoaderSource(stream, 16, seed=7)
        memory.set_epoch(epoch)
        loader.set_epoch(epoch)
        got, want = list(loader), list(memory)
        assert loader.num_batches == memory.num_batches == len(want) == 7
        assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    assert not torch.equal(got[0], next(iter(Batcher(x, 16, seed=8))))


def test_plain_dataset_without_getitems_and_ddp_shards() -> None:
    x = features(30, 3)
    stream = Stream(Rows(x, np.zeros(30)), (1, 1, 3))
    shards = [LoaderSource(stream, 4, seed=0, rank=r, world_size=4) for r in range(4)]
    seen = torch.cat([torch.cat(list(s)) for s in shards]).reshape(-1, 3)
    assert shards[0].num_batches == 2 and len(seen) == 32  # 30 padded to 32 by wrapping
    assert {r.numpy().tobytes() for r in seen} == {r.tobytes() for r in x}


def test_user_loader_is_reseeded_per_epoch() -> None:
    x = torch.arange(40, dtype=torch.float32).reshape(40, 1) / 40
    loader = DataLoader(TensorDataset(x), batch_size=8, shuffle=True)
    source = LoaderSource(Stream(loader, (1, 1, 1)), 8, seed=3)
    source.set_epoch(1)
    first = torch.cat(list(source))
    torch.manual_seed(12345)  # the global RNG does not decide the order
    again = torch.cat(list(source))
    source.set_epoch(2)
    other = torch.cat(list(source))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert sorted(first.flatten().tolist()) == sorted(x.flatten().tolist())


def test_out_of_range_stream_and_sharded_iterable_are_errors() -> None:
    bad = TensorDataset(torch.full((8, 4), 3.0))
    with pytest.raises(DataError, match=r"range from 3 to 3, expected uint8 \(0-255\) or floats"):
        list(LoaderSource(Stream(bad, (1, 1, 4)), 4))
    with pytest.raises(DataError, match=r"a batch has shape \[4, 5\], expected samples of shape"):
        list(LoaderSource(Stream(TensorDataset(torch.zeros(8, 5)), (1, 1, 4)), 4))
    with pytest.raises(ConfigError, match="RowStream cannot be sharded across 2 processes"):
        LoaderSource(Stream(RowStream(8, 4), (1, 1, 4)), 4, world_size=2)


def test_iterable_without_length_has_no_batch_count() -> None:
    source = LoaderSource(Stream(RowStream(10, 4), (1, 1, 4)), 4)
    assert source.num_batches is None
    assert [len(b) for b in source] == [4, 4, 2]
