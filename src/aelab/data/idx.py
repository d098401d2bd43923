"""IDX files (MNIST, Fashion-MNIST): parsing with full validation, and writing.

Layout: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
big-endian uint32 per dimension, then the data. Files may be gzip-compressed
(detected by content, not by name). Every check names the file, what was expected and
what was found.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from aelab.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UINT8 = 0x08
TYPE_NAMES = {
    0x08: "uint8",
    0x09: "int8",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
HINT = "Delete it and fetch it again (aelab data fetch NAME --force), or pass --data-dir."


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed when it is gzip."""
    return decompress(Path(path).read_bytes(), source=path)


def decompress(raw: bytes, *, source: str | Path) -> bytes:
    """``raw`` decompressed when it is gzip, else as is."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{source}: the gzip data is corrupt or truncated ({exc}). {HINT}"
        ) from None


def parse(data: bytes, *, source: str | Path, ndim: int) -> np.ndarray:
    """Parse an uint8 IDX array of ``ndim`` dimensions from ``data`` (decompressed bytes)."""
    if len(data) < 4:
        raise DataError(f"{source}: too short for an IDX file ({len(data)} bytes). {HINT}")
    zero, code, found_ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in TYPE_NAMES:
        raise DataError(
            f"{source}: not an IDX file (magic number 0x{data[:4].hex()}, expected "
            f"0x0000080{ndim} for a {ndim}-d uint8 array). {HINT}"
        )
    if code != UINT8:
        raise DataError(
            f"{source}: IDX data type is {TYPE_NAMES[code]}, expected uint8 (code 0x08). {HINT}"
        )
    if found_ndim != ndim:
        raise DataError(
            f"{source}: IDX array has {found_ndim} dimensions, expected {ndim} "
            f"({'images N x H x W' if ndim == 3 else 'labels N'}). {HINT}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: truncated IDX header ({len(data)} bytes, expected {header}). {HINT}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise DataError(
            f"{source}: IDX images have size {dims[1]}x{dims[2]}, expected both > 0. {HINT}"
        )
    # Python ints: a product of four uint32 dims can pass 2**63 (NumPy would wrap around),
    # and nothing is allocated or reshaped before the size is known to match.
    expected = header + math.prod(dims)
    if len(data) < expected:
        raise DataError(
            f"{source} is truncated (expected {expected:,} bytes after decompression for dims "
            f"{'x'.join(map(str, dims))}, found {len(data):,}). {HINT}"
        )
    if len(data) > expected:
        raise DataError(
            f"{source} has {len(data) - expected:,} bytes more than its header announces "
            f"(expected {expected:,} bytes for dims {'x'.join(map(str, dims))}, found "
            f"{len(data):,}). {HINT}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def images_from_bytes(data: bytes, *, source: str | Path) -> np.ndarray:
    """(N, 1, H, W) uint8 from the bytes of an idx3 file."""
    array = parse(data, source=source, ndim=3)
    return array[:, None, :, :]


def labels_from_bytes(data: bytes, *, source: str | Path, num_classes: int) -> np.ndarray:
    """(N,) int64 labels from the bytes of an idx1 file, each in [0, num_classes)."""
    labels = parse(data, source=source, ndim=1)
    if len(labels) and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DataError(
            f"{source}: label {int(labels[bad])} at index {bad} is out of range (expected 0 to "
            f"{num_classes - 1} for {num_classes} classes). {HINT}"
        )
    return labels.astype(np.int64)


def check_pair(
    images: np.ndarray, labels: np.ndarray, images_source: str, labels_source: str
) -> None:
    """Image and label files must describe the same number of samples."""
    if len(images) != len(labels):
        raise DataError(
            f"{labels_source} has {len(labels):,} labels but {images_source} has "
            f"{len(images):,} images (expected equal counts). {HINT}"
        )


def read_images(path: str | Path) -> np.ndarray:
    return images_from_bytes(read_bytes(path), source=path)


def read_labels(path: str | Path, num_classes: int = 256) -> np.ndarray:
    return labels_from_bytes(read_bytes(path), source=path, num_classes=num_classes)


def encode(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array (1 to 255 dimensions)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, UINT8, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.tobytes()


def write(path: str | Path, array: np.ndarray, *, gz: bool | None = None) -> Path:
    """Write ``array`` as IDX; gzip when ``gz`` (default: when the name ends in .gz)."""
    path = Path(path)
    data = encode(array)
    if gz if gz is not None else path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return path
