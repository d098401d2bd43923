from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aelab.config import DataConfig
from aelab.data import load_dataset
from aelab.errors import DataError


def _save(path: Path, size=(6, 5), mode="L", value=100, fmt=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    channels = 3 if mode == "RGB" else 1
    array = np.full((h, w, channels), value, np.uint8).squeeze()
    Image.fromarray(array, mode=mode).save(path, format=fmt)


def _cfg(path: Path, **kw) -> DataConfig:
    return DataConfig(dataset=f"folder:{path}", validation="none", **kw)


def test_labels_from_subfolders_with_train_test(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        for cls, value in (("cat", 10), ("dog", 200)):
            for i in range(n):
                _save(tmp_path / split / cls / f"{i}.png", value=value)
    (tmp_path / "train" / "notes.txt").write_text("ignored")
    data = load_dataset(_cfg(tmp_path))
    assert data.classes == ("cat", "dog")
    assert data.shape == (1, 5, 6)
    assert (len(data.train), len(data.test)) == (6, 4)
    np.testing.assert_array_equal(data.train.labels, [0, 0, 0, 1, 1, 1])
    assert data.train.images[3].max() == 200  # the dog images carry label 1


def test_flat_folder_is_unlabelled_with_held_out_test(tmp_path: Path) -> None:
    for i in range(20):
        _save(tmp_path / f"img{i:02d}.jpg", mode="RGB", value=i * 10, fmt="JPEG")
    data = load_dataset(_cfg(tmp_path))
    assert data.classes is None and data.train.labels is None
    assert data.shape == (3, 5, 6)
    assert (len(data.train), len(data.test)) == (18, 2)


def test_mixed_sizes_error_then_resize(tmp_path: Path) -> None:
    _save(tmp_path / "a" / "1.png", size=(6, 5))
    _save(tmp_path / "a" / "2.png", size=(8, 8))
    _save(tmp_path / "b" / "3.png", size=(6, 5))
    with pytest.raises(
        DataError, match=r"2\.png is 8x8 \(HxW\) but .*1\.png is 5x6; set data\.image_size"
    ):
        load_dataset(_cfg(tmp_path))
    data = load_dataset(_cfg(tmp_path, image_size=(4, 7)))
    assert data.shape == (1, 4, 7)


def test_mixed_modes_error_then_convert(tmp_path: Path) -> None:
    _save(tmp_path / "x" / "1.png", mode="L")
    _save(tmp_path / "x" / "2.png", mode="RGB")
    _save(tmp_path / "y" / "3.png", mode="L")
    with pytest.raises(DataError, match=r"is mode RGB but .* is mode L; set data\.mode"):
        load_dataset(_cfg(tmp_path))
    assert load_dataset(_cfg(tmp_path, mode="RGB")).shape == (3, 5, 6)
    assert load_dataset(_cfg(tmp_path, mode="L")).shape == (1, 5, 6)


def test_loose_and_subfolder_images_is_an_error(tmp_path: Path) -> None:
    _save(tmp_path / "loose.png")
    _save(tmp_path / "cls" / "1.png")
    with pytest.raises(DataError, match="both directly inside"):
        load_dataset(_cfg(tmp_path))


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no PNG or JPEG images"):
        load_dataset(_cfg(tmp_path))
    with pytest.raises(DataError, match="is not a folder"):
        load_dataset(_cfg(tmp_path / "nope"))


def test_unreadable_image(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png")
    _save(tmp_path / "good.png")
    with pytest.raises(DataError, match=r"bad\.png: not a readable image"):
        load_dataset(_cfg(tmp_path))


@pytest.mark.parametrize("side", [12, 20])  # over the limit (Pillow warns), over twice (raises)
def test_decompression_bomb_is_a_data_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: int
) -> None:
    for i in range(3):
        _save(tmp_path / f"{i}.png", size=(4, 4))
    _save(tmp_path / "big.png", size=(side, side))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(
        DataError, match=rf"big\.png: refused as a possible decompression bomb .*{side * side}"
    ):
        load_dataset(_cfg(tmp_path, image_size=(4, 4)))
