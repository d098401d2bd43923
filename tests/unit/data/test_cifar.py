from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from aelab.config import DataConfig
from aelab.data import cifar, load_dataset
from aelab.errors import DataError
from fakedata import write_cifar_binary


def test_records_round_trip() -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3])
    data = cifar.encode_records(images, labels)
    assert len(data) == 4 * 3073
    got_x, got_y = cifar.records_from_bytes(data, source="x")
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)
    # channel-major: the first 1024 pixel bytes of a record are the red plane
    assert data[1 : 1 + 1024] == images[0, 0].tobytes()


@pytest.mark.parametrize("layout", ["archive", "batches"])
def test_load_from_archive_or_batches(tmp_path: Path, layout: str) -> None:
    write_cifar_binary(
        tmp_path, n_train=25, n_test=10, archive=layout == "archive", batches=layout == "batches"
    )
    data = load_dataset(
        DataConfig(dataset="cifar10", data_dir=str(tmp_path), val_size=5), download=False
    )
    assert data.shape == (3, 32, 32)
    assert (len(data.train), len(data.val), len(data.test)) == (20, 5, 10)
    assert data.classes[0] == "airplane"
    assert data.train.labels.dtype == np.int64


def test_bad_record_size() -> None:
    with pytest.raises(DataError, match="not a positive multiple of the CIFAR-10 record size 3073"):
        cifar.records_from_bytes(b"\0" * 3000, source="x")


def test_label_out_of_range() -> None:
    data = bytearray(cifar.encode_records(np.zeros((2, 3, 32, 32), np.uint8), np.array([1, 2])))
    data[3073] = 10
    with pytest.raises(DataError, match="label 10 in record 1 is out of range"):
        cifar.records_from_bytes(bytes(data), source="x")


def test_archive_missing_member(tmp_path: Path) -> None:
    path = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = cifar.encode_records(np.zeros((1, 3, 32, 32), np.uint8), np.array([0]))
        info = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match=r"lacks data_batch_1\.bin"):
        cifar.read_split_from_archive(path, "train")
