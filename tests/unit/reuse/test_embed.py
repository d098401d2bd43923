"""Embedding round trips: shape, dtype and label alignment through .npy, .npz and .csv."""

from __future__ import annotations

import numpy as np
import pytest

import aelab
from aelab.errors import ConfigError, DataError
from aelab.reuse.embed import embed_run, load_codes, save_codes


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_embed_round_trip(run_dir, tiny_data, tmp_path, suffix):
    out = tmp_path / f"codes{suffix}"
    codes, labels = embed_run(run_dir, split="test", out=out, progress=False)
    assert codes.shape == (120, 8) and codes.dtype == np.float32
    # label alignment: row i is test image i and its label
    np.testing.assert_array_equal(labels, tiny_data.test.labels)
    np.testing.assert_allclose(codes, aelab.load(run_dir).encode(tiny_data.test.images), atol=1e-6)
    back, back_labels = load_codes(out)
    assert back.shape == codes.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, codes, rtol=1e-6, atol=1e-7)
    if suffix == ".npy":
        assert back_labels is None
    else:
        assert back_labels.dtype == np.int64
        np.testing.assert_array_equal(back_labels, labels)


def test_embed_train_and_val_splits_follow_the_run(run_dir):
    train_codes, train_labels = embed_run(run_dir, split="train", progress=False)
    val_codes, val_labels = embed_run(run_dir, split="val", progress=False)
    # the run held 24 of the 264 training images out as validation, by its seed
    assert len(train_codes) == len(train_labels) == 240
    assert len(val_codes) == len(val_labels) == 24


def test_unlabelled_csv_and_errors(tmp_path, run_dir):
    codes = np.arange(6, dtype=np.float32).reshape(3, 2)
    back, labels = load_codes(save_codes(tmp_path / "c.csv", codes))
    assert labels is None
    np.testing.assert_array_equal(back, codes)
    with pytest.raises(ConfigError, match=r"\.npy, \.npz, \.csv"):
        embed_run(run_dir, out=tmp_path / "codes.parquet", progress=False)
    with pytest.raises(ConfigError, match="split"):
        embed_run(run_dir, split="validation", progress=False)
    with pytest.raises(DataError, match="align"):
        save_codes(tmp_path / "c.npz", codes, np.zeros(2))
