"""Arrays from NumPy files: ``npy:PATH`` and ``npz:PATH``.

- ``npz:FILE.npz`` with keys ``x_train``, ``x_test`` (and optionally ``y_train``,
  ``y_test``), or ``images`` (and optionally ``labels``);
- ``npy:FOLDER`` with ``x_train.npy``, ``x_test.npy`` (and optionally ``y_*.npy``);
- ``npy:FILE.npy``: images only.

Without a test split, a fixed 10% is held out as test (see ``splits.hold_out_test``).
Images may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}, uint8 or float
in [0, 1]; labels are class indices, integers in [0, MAX_LABEL]. Files are loaded with
``allow_pickle=False``: object arrays are refused. Each array's header is checked
against the bytes that hold it before anything is allocated, so a corrupt or hostile
header ("1.5 TiB") is an error naming the file, not a MemoryError.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from aelab.data.splits import Split, hold_out_test
from aelab.errors import DataError, one_line

CHANNELS = (1, 3)
# Labels are class indices, and per-class tables (counts, one-hot probes) are sized by the
# largest: 16 bits (65,536 classes) is ample for any classification data set (ImageNet-21k
# has 21,841) and keeps such a table small whatever a corrupt file holds.
MAX_LABEL = 2**16 - 1


def to_nchw(array: np.ndarray, *, source: str) -> np.ndarray:
    """Images as (N, C, H, W) from (N, H, W), (N, H, W, C) or (N, C, H, W); values untouched."""
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4:
        first, last = array.shape[1] in CHANNELS, array.shape[3] in CHANNELS
        if first and last:
            raise DataError(
                f"{source}: shape {array.shape} is ambiguous (channels first or last?); save "
                "it as (N, C, H, W)."
            )
        if last:
            array = array.transpose(0, 3, 1, 2)
        elif not first:
            raise DataError(
                f"{source}: shape {array.shape} has no channel axis of size 1 or 3 (expected "
                "(N, H, W), (N, H, W, C) or (N, C, H, W))."
            )
    else:
        raise DataError(
            f"{source}: images have shape {array.shape}, expected (N, H, W), (N, H, W, C) or (N, C, H, W)."
        )
    if len(array) == 0:
        raise DataError(f"{source}: holds no images (shape {array.shape}).")
    return array


def check_unit_range(array: np.ndarray, *, source: str) -> None:
    """Raise a DataError unless the float ``array`` is finite and within [0, 1]."""
    if not np.isfinite(array).all():
        raise DataError(
            f"{source}: images contain NaN or infinite values; expected floats in [0, 1]."
        )
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{source}: float images range from {low:g} to {high:g}, expected [0, 1]; divide "
            "0-255 data by 255 or save it as uint8."
        )


def to_nchw_uint8(array: np.ndarray, *, source: str) -> np.ndarray:
    """Images as (N, C, H, W) uint8, from any accepted layout and dtype."""
    array = to_nchw(array, source=source)
    if array.dtype == np.uint8:
        # a contiguous (memory-mapped) array is kept as is, not copied
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(
            f"{source}: images have dtype {array.dtype}, expected uint8 (0-255) or float in "
            "[0, 1]; convert with .astype(np.uint8) or divide by 255."
        )
    check_unit_range(array, source=source)
    return np.rint(array * 255).astype(np.uint8)


def check_labels(labels: np.ndarray | None, n: int, *, source: str) -> np.ndarray | None:
    """Labels as (N,) int64; None stays None."""
    if labels is None:
        return None
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(
            f"{source}: labels have shape {labels.shape}, expected ({n},) to match the images."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{source}: labels have dtype {labels.dtype}, expected integers.")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) > MAX_LABEL):
        bad = int(np.argmax((labels < 0) | (labels > MAX_LABEL)))
        raise DataError(
            f"{source}: label {int(labels[bad]):,} at index {bad:,} is out of range (expected "
            f"class indices 0 to {MAX_LABEL:,}, at most {MAX_LABEL + 1:,} classes); number "
            "the classes 0 to K-1."
        )
    return labels.astype(np.int64)


def _split(images: np.ndarray, labels: np.ndarray | None, source: str) -> Split:
    images = to_nchw_uint8(images, source=source)
    return Split(images, check_labels(labels, len(images), source=source))


def _from_named(arrays: dict[str, np.ndarray], source: str) -> tuple[Split, Split]:
    if "x_train" in arrays and "x_test" in arrays:
        train = _split(arrays["x_train"], arrays.get("y_train"), f"{source} x_train")
        test = _split(arrays["x_test"], arrays.get("y_test"), f"{source} x_test")
        if train.images.shape[1:] != test.images.shape[1:]:
            raise DataError(
                f"{source}: x_train images are {train.images.shape[1:]} but x_test images are "
                f"{test.images.shape[1:]} (expected the same shape)."
            )
        return train, test
    if "images" in arrays:
        pool = _split(arrays["images"], arrays.get("labels"), f"{source} images")
        return hold_out_test(pool, source=source)
    raise DataError(
        f"{source}: found arrays {sorted(arrays)}, expected x_train and x_test (with optional "
        "y_train, y_test) or images (with optional labels)."
    )


NUMPY_MAX_HEADER = 10_000  # np.load's default max_header_size


def check_npy_header(f: IO[bytes], available: int, *, source: str) -> None:
    """The .npy header at the start of ``f`` must declare no more data than the
    ``available`` bytes (of the file, or of the npz member) hold; read before NumPy
    allocates anything."""
    try:
        version = np.lib.format.read_magic(f)
        start = f.tell()
        size_bytes = 2 if version == (1, 0) else 4
        header_size = int.from_bytes(f.read(size_bytes), "little")
        if header_size > NUMPY_MAX_HEADER:  # NumPy's own text advises allow_pickle=True
            raise DataError(
                f"{source}: its .npy header is {header_size:,} bytes, more than NumPy reads "
                f"safely ({NUMPY_MAX_HEADER:,}); save the array again with np.save."
            )
        f.seek(start)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(f)
    except ValueError as exc:
        raise DataError(f"{source}: not a readable .npy array ({one_line(exc)}).") from None
    if dtype.hasobject:
        return  # refused by np.load(allow_pickle=False) with its own message
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    found = available - f.tell()
    if declared > found:
        raise DataError(
            f"{source}: the header declares shape {shape} of {dtype} ({declared:,} bytes) but "
            f"the file holds {max(found, 0):,} bytes of data; it is truncated or corrupt. "
            "Save it again with np.save / np.savez."
        )


def _check_headers(path: Path) -> None:
    """Check the header of ``path`` (.npy) or of every array in it (.npz)."""
    if path.is_dir():
        return  # np.load says so
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            f.seek(0)
            check_npy_header(f, path.stat().st_size, source=str(path))
            return
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as member:
                        check_npy_header(member, info.file_size, source=f"{path}:{info.filename}")
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: not a readable .npz archive ({one_line(exc)}).") from None


def _np_load(path: Path, mmap: bool = False):
    try:
        _check_headers(path)
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist.") from None
    except MemoryError:
        raise DataError(
            f"{path}: too large to read into memory ({path.stat().st_size:,} bytes); save the "
            "images with np.save into a folder and load it as npy:FOLDER with data.mmap = true."
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path}: not a readable NumPy file without pickled objects ({one_line(exc)})."
        ) from None


def read_npz(path: str | Path) -> tuple[Split, Split]:
    path = Path(path)
    npz = _np_load(path)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an .npz archive; use npy:{path}.")
    with npz:
        try:
            arrays = {k: npz[k] for k in npz.files}
        except ValueError as exc:
            raise DataError(
                f"{path}: holds pickled objects, which are refused ({one_line(exc)})."
            ) from None
    return _from_named(arrays, str(path))


def read_npy(path: str | Path, *, mmap: bool = False) -> tuple[Split, Split]:
    """``mmap``: memory-map uint8 (N, C, H, W) files instead of reading them."""
    path = Path(path)
    if path.is_dir():
        names = ("x_train", "x_test", "y_train", "y_test")
        arrays = {
            n: _np_load(path / f"{n}.npy", mmap and n.startswith("x"))
            for n in names
            if (path / f"{n}.npy").is_file()
        }
        return _from_named(arrays, str(path))
    array = _np_load(path, mmap)
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: not an .npy array; use npz:{path}.")
    return hold_out_test(_split(array, None, str(path)), source=str(path))
