from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from aelab.config import DataConfig
from aelab.data import arrays, load_dataset
from aelab.errors import DataError


def _cfg(spec: str, **kw) -> DataConfig:
    return DataConfig(dataset=spec, validation="none", **kw)


def test_npz_train_test_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    x_test = rng.integers(0, 256, (4, 8, 8), dtype=np.uint8)
    np.savez(
        tmp_path / "d.npz",
        x_train=x_train,
        x_test=x_test,
        y_train=np.arange(12) % 3,
        y_test=np.arange(4) % 3,
    )
    data = load_dataset(_cfg(f"npz:{tmp_path / 'd.npz'}"))
    assert data.shape == (1, 8, 8)
    np.testing.assert_array_equal(data.train.images[:, 0], x_train)
    np.testing.assert_array_equal(data.test.labels, [0, 1, 2, 0])
    assert data.train.labels.dtype == np.int64


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((10, 5, 6), (1, 5, 6)),
        ((10, 5, 6, 3), (3, 5, 6)),
        ((10, 3, 5, 6), (3, 5, 6)),
        ((10, 1, 5, 6), (1, 5, 6)),
    ],
)
def test_layouts(shape, expected) -> None:
    x = np.random.default_rng(0).random(shape)
    out = arrays.to_nchw_uint8(x, source="x")
    assert out.shape == (10, *expected) and out.dtype == np.uint8
    assert out.max() <= 255 and abs(out.mean() / 255 - x.mean()) < 0.01


def test_npz_images_key_holds_out_test(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "d.npz",
        images=np.random.default_rng(0).random((30, 4, 4, 3)).astype(np.float32),
        labels=np.arange(30) % 2,
    )
    data = load_dataset(_cfg(f"npz:{tmp_path / 'd.npz'}"))
    assert (len(data.train), len(data.test)) == (27, 3)
    assert data.shape == (3, 4, 4)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((3, 4, 4), np.nan), "NaN or infinite"),
        (np.full((3, 4, 4), 2.0), r"range from 2 to 2, expected \[0, 1\]"),
        (np.zeros((3, 4, 4), np.int64), "dtype int64, expected uint8"),
        (np.zeros((3, 4), np.uint8), "shape"),
        (np.zeros((3, 4, 4, 5), np.uint8), "no channel axis"),
        (np.zeros((3, 3, 4, 3), np.uint8), "ambiguous"),
    ],
)
def test_rejected_images(array, message) -> None:
    with pytest.raises(DataError, match=message):
        arrays.to_nchw_uint8(array, source="x")


def test_bad_labels(tmp_path: Path) -> None:
    x = np.zeros((4, 4, 4), np.uint8)
    np.savez(tmp_path / "a.npz", images=x, labels=np.array([0.5, 1, 2, 3]))
    with pytest.raises(DataError, match="labels have dtype float64, expected integers"):
        load_dataset(_cfg(f"npz:{tmp_path / 'a.npz'}"))
    np.savez(tmp_path / "b.npz", images=x, labels=np.arange(3))
    with pytest.raises(DataError, match=r"labels have shape \(3,\), expected \(4,\)"):
        load_dataset(_cfg(f"npz:{tmp_path / 'b.npz'}"))
    np.savez(tmp_path / "c.npz", pictures=x)
    with pytest.raises(DataError, match="expected x_train and x_test"):
        load_dataset(_cfg(f"npz:{tmp_path / 'c.npz'}"))


def test_pickled_arrays_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled"):
        load_dataset(_cfg(f"npy:{tmp_path / 'o.npy'}"))


def test_npy_folder_memory_mapped(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (40, 1, 6, 6), dtype=np.uint8)
    np.save(tmp_path / "x_train.npy", x)
    np.save(tmp_path / "x_test.npy", x[:8])
    data = load_dataset(DataConfig(dataset=f"npy:{tmp_path}", val_size=10, mmap=True))
    assert isinstance(data.train.images, np.memmap) and isinstance(data.val.images, np.memmap)
    assert (len(data.train), len(data.val), len(data.test)) == (30, 10, 8)
    together = np.concatenate([data.train.images, data.val.images])
    assert sorted(map(bytes, together)) == sorted(map(bytes, x))


def test_npy_file(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((10, 28, 28), np.uint8))
    data = load_dataset(_cfg(f"npy:{tmp_path / 'x.npy'}"))
    assert (len(data.train), len(data.test)) == (9, 1) and data.train.labels is None


def _npy_header_only(path: Path, shape: tuple[int, ...]) -> None:
    """An .npy file whose header declares ``shape`` of uint8 but which holds no data."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": shape}
        )


HUGE = (400_000, 2048, 2048)  # 1.5 TiB of uint8


@pytest.mark.parametrize("mmap", [False, True])
def test_npy_header_larger_than_the_file_is_refused_before_allocating(
    tmp_path: Path, mmap: bool
) -> None:
    _npy_header_only(tmp_path / "x_train.npy", HUGE)
    np.save(tmp_path / "x_test.npy", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(
        DataError,
        match=r"x_train\.npy: the header declares shape \(400000, 2048, 2048\) of uint8 "
        r"\(1,677,721,600,000 bytes\) but the file holds 0 bytes of data",
    ):
        load_dataset(_cfg(f"npy:{tmp_path}", mmap=mmap))


def test_npz_member_header_larger_than_its_data_is_refused(tmp_path: Path) -> None:
    _npy_header_only(tmp_path / "x_train.npy", HUGE)
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(tmp_path / "x_train.npy", "x_train.npy")
        with archive.open("x_test.npy", "w") as member:
            np.lib.format.write_array(member, np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"d\.npz:x_train\.npy: the header declares shape"):
        load_dataset(_cfg(f"npz:{path}"))


def test_labels_are_range_checked_before_any_per_class_table(tmp_path: Path) -> None:
    x = np.zeros((4, 4, 4), np.uint8)
    labels = np.array([0, 10**9, 1, 2])
    np.savez(tmp_path / "d.npz", x_train=x, x_test=x, y_train=labels, y_test=labels % 3)
    with pytest.raises(
        DataError,
        match=r"d\.npz x_train: label 1,000,000,000 at index 1 is out of range \(expected class "
        r"indices 0 to 65,535",
    ):
        load_dataset(_cfg(f"npz:{tmp_path / 'd.npz'}"))


@pytest.mark.parametrize("n", [0, 1])
def test_a_single_array_needs_two_images_for_train_and_test(tmp_path: Path, n: int) -> None:
    np.save(tmp_path / "x.npy", np.zeros((n, 4, 4), np.uint8))
    message = "holds no images" if n == 0 else r"holds 1 image, expected at least 2"
    with pytest.raises(DataError, match=message):
        load_dataset(_cfg(f"npy:{tmp_path / 'x.npy'}"))
