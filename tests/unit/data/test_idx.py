from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from aelab.config import DataConfig
from aelab.data import idx, load_dataset
from aelab.errors import DataError
from fakedata import write_idx_dataset


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path: Path, gz: bool) -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    idx.write(tmp_path / "img", images, gz=gz)
    idx.write(tmp_path / "lab", labels, gz=gz)
    assert (tmp_path / "img").read_bytes().startswith(b"\x1f\x8b") == gz
    got = idx.read_images(tmp_path / "img")
    assert got.shape == (7, 1, 5, 4) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[:, 0], images)
    lab = idx.read_labels(tmp_path / "lab", num_classes=10)
    assert lab.dtype == np.int64
    np.testing.assert_array_equal(lab, labels)


def _images_bytes(n: int = 3) -> bytes:
    return idx.encode(np.zeros((n, 4, 4), dtype=np.uint8))


def test_bad_magic() -> None:
    data = b"\x12\x34" + _images_bytes()[2:]
    with pytest.raises(DataError, match=r"f\.idx: not an IDX file \(magic number 0x1234"):
        idx.parse(data, source="f.idx", ndim=3)


def test_wrong_type_code() -> None:
    data = struct.pack(">HBB", 0, 0x0C, 3) + _images_bytes()[4:]
    with pytest.raises(DataError, match="data type is int32, expected uint8"):
        idx.parse(data, source="f", ndim=3)


def test_wrong_dims() -> None:
    with pytest.raises(DataError, match="has 1 dimensions, expected 3"):
        idx.parse(idx.encode(np.zeros(5, dtype=np.uint8)), source="f", ndim=3)


def test_truncated() -> None:
    data = _images_bytes(3)[:-10]
    with pytest.raises(
        DataError,
        match=r"f is truncated \(expected 64 bytes after decompression for dims 3x4x4, found 54\)",
    ):
        idx.parse(data, source="f", ndim=3)


def test_trailing_bytes() -> None:
    with pytest.raises(DataError, match="5 bytes more than its header announces"):
        idx.parse(_images_bytes() + b"\0" * 5, source="f", ndim=3)


def test_too_short_header() -> None:
    with pytest.raises(DataError, match="too short"):
        idx.parse(b"\0\0", source="f", ndim=1)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_images_bytes())[:-12])
    with pytest.raises(DataError, match="gzip data is corrupt or truncated"):
        idx.read_images(path)


def test_label_out_of_range() -> None:
    data = idx.encode(np.array([0, 3, 12, 1], dtype=np.uint8))
    with pytest.raises(DataError, match="label 12 at index 2 is out of range \\(expected 0 to 9"):
        idx.labels_from_bytes(data, source="f", num_classes=10)


def test_count_mismatch_through_load(tmp_path: Path) -> None:
    from fakedata import write_idx_dataset

    write_idx_dataset(tmp_path, n_train=20, n_test=10)
    idx.write(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DataError, match=r"has 9 labels but .* has 10 images"):
        load_dataset(DataConfig(dataset=f"idx:{tmp_path}", validation="none"))


def test_idx_folder_loads_raw_and_gz(tmp_path: Path) -> None:
    from fakedata import write_idx_dataset

    write_idx_dataset(tmp_path, n_train=30, n_test=10, shape=(8, 6), classes=3, gz=False)
    data = load_dataset(DataConfig(dataset=f"idx:{tmp_path}", validation="none"))
    assert data.shape == (1, 8, 6)
    assert data.classes == ("0", "1", "2")
    assert len(data.train) == 30 and len(data.test) == 10


def test_dims_whose_product_passes_int64_are_truncated_not_a_crash() -> None:
    # 2**31 x 2**31 x 4 = 2**64 bytes: an int64 product wraps to 0 (a reshape crash or a
    # wrong count); the size is compared in Python ints before anything is allocated.
    header = struct.pack(">HBB3I", 0, idx.UINT8, 3, 2**31, 2**31, 4)
    with pytest.raises(
        DataError,
        match=r"f is truncated \(expected 18,446,744,073,709,551,632 bytes after decompression "
        r"for dims 2147483648x2147483648x4, found 32\)",
    ):
        idx.parse(header + bytes(16), source="f", ndim=3)


@pytest.mark.parametrize("split", ["train", "t10k"])
def test_idx_files_with_zero_images_are_refused_at_load(tmp_path: Path, split: str) -> None:
    write_idx_dataset(tmp_path, n_train=8, n_test=4, shape=(4, 4), gz=False)
    idx.write(tmp_path / f"{split}-images-idx3-ubyte", np.zeros((0, 4, 4), np.uint8))
    idx.write(tmp_path / f"{split}-labels-idx1-ubyte", np.zeros(0, np.uint8))
    name = "train" if split == "train" else "test"
    with pytest.raises(
        DataError, match=rf"the {name} split holds 0 images \(expected at least 1\)"
    ):
        load_dataset(DataConfig(dataset=f"idx:{tmp_path}", validation="split", val_size=2))
