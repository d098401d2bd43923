"""A folder of images: ``folder:PATH`` (PNG and JPEG, read with Pillow).

Layout: ``PATH/train/`` and ``PATH/test/`` when both exist, else ``PATH`` alone with a
fixed 10% held out as test (``splits.hold_out_test``). Inside each, images in
sub-folders are labelled by the sub-folder name (classes sorted by name); images
directly inside are unlabelled; mixing both is an error.

All images must share one size and mode unless ``DataConfig.image_size`` (H, W) and
``DataConfig.mode`` (``L`` or ``RGB``) say what to convert them to; a difference without
the option is an error naming two files that differ.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aelab.data.splits import Split, hold_out_test
from aelab.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg")
NATURAL_MODES = {"1": "L", "L": "L", "RGB": "RGB"}


def _images_in(directory: Path, recursive: bool) -> list[Path]:
    files = directory.rglob("*") if recursive else directory.iterdir()
    return sorted(p for p in files if p.is_file() and p.suffix.lower() in SUFFIXES)


def scan(pool: Path) -> tuple[list[Path], list[str] | None]:
    """Image files of ``pool`` and their class names (None when unlabelled)."""
    loose = _images_in(pool, recursive=False)
    class_dirs = sorted(d for d in pool.iterdir() if d.is_dir() and _images_in(d, recursive=True))
    if loose and class_dirs:
        raise DataError(
            f"{pool}: has images both directly inside ({loose[0].name}, ...) and in sub-folders "
            f"({class_dirs[0].name}/, ...); expected one or the other (sub-folders = labels)."
        )
    if loose:
        return loose, None
    files, names = [], []
    for d in class_dirs:
        found = _images_in(d, recursive=True)
        files += found
        names += [d.name] * len(found)
    if not files:
        raise DataError(f"{pool}: no PNG or JPEG images found (looked for {', '.join(SUFFIXES)}).")
    return files, names


class _Reader:
    """Reads images as (C, H, W) uint8 of one size and mode; the first image read is the
    reference the others must match when no conversion is asked for."""

    def __init__(self, image_size: tuple[int, int] | None, mode: str | None) -> None:
        self.size = (image_size[1], image_size[0]) if image_size else None  # PIL wants (W, H)
        self.mode = mode
        self.first: tuple[Path, str, tuple[int, int]] | None = None

    def __call__(self, path: Path) -> np.ndarray:
        try:
            with warnings.catch_warnings():
                # Pillow only warns between its limit and twice that: refuse both alike.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    im.load()
                    return self._convert(path, im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DataError(
                f"{path}: refused as a possible decompression bomb ({exc}); expected at most "
                f"{Image.MAX_IMAGE_PIXELS:,} pixels per image (Pillow's limit). Resize it, or "
                "remove it from the folder."
            ) from None
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"{path}: not a readable image ({exc}).") from None

    def _convert(self, path: Path, im: Image.Image) -> np.ndarray:
        natural = NATURAL_MODES.get(im.mode, im.mode)
        if self.first is None:
            self.first = (path, natural, im.size)
        first_path, first_mode, first_size = self.first
        if self.mode is None and natural not in ("L", "RGB"):
            raise DataError(
                f"{path}: image mode {im.mode} needs a conversion; set data.mode to L or RGB."
            )
        if self.mode is None and natural != first_mode:
            raise DataError(
                f"{path} is mode {natural} but {first_path} is mode {first_mode}; set data.mode "
                "to L or RGB to convert every image to one mode."
            )
        if self.size is None and im.size != first_size:
            raise DataError(
                f"{path} is {im.size[1]}x{im.size[0]} (HxW) but {first_path} is "
                f"{first_size[1]}x{first_size[0]}; set data.image_size = [H, W] to resize every image."
            )
        mode = self.mode or natural
        if im.mode != mode:
            im = im.convert(mode)
        if self.size is not None and im.size != self.size:
            im = im.resize(self.size, Image.Resampling.BILINEAR)
        array = np.asarray(im, dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _read_pool(pool: Path, reader: _Reader) -> tuple[np.ndarray, list[str] | None]:
    files, names = scan(pool)
    return np.stack([reader(p) for p in files]), names


def read_folder(
    path: str | Path, *, image_size: tuple[int, int] | None = None, mode: str | None = None
) -> tuple[Split, Split, tuple[str, ...] | None]:
    """(train, test, classes) of an image folder."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"folder:{path}: {root} is not a folder.")
    reader = _Reader(image_size, mode)
    if (root / "train").is_dir() and (root / "test").is_dir():
        (train_x, train_names), (test_x, test_names) = (
            _read_pool(root / s, reader) for s in ("train", "test")
        )
        if (train_names is None) != (test_names is None):
            raise DataError(
                f"{root}: one of train/ and test/ has class sub-folders and the other not; "
                "expected the same layout in both."
            )
        classes = (
            None if train_names is None else tuple(sorted(set(train_names) | set(test_names or [])))
        )
        return (
            _labelled(train_x, train_names, classes),
            _labelled(test_x, test_names, classes),
            classes,
        )
    images, names = _read_pool(root, reader)
    classes = None if names is None else tuple(sorted(set(names)))
    train, test = hold_out_test(_labelled(images, names, classes), source=f"folder:{path}")
    return train, test, classes


def _labelled(
    images: np.ndarray, names: list[str] | None, classes: tuple[str, ...] | None
) -> Split:
    if names is None or classes is None:
        return Split(images)
    index = {c: i for i, c in enumerate(classes)}
    return Split(images, np.array([index[n] for n in names], dtype=np.int64))
