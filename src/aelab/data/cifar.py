"""CIFAR-10, binary version: records of 1 label byte + 3072 pixel bytes (3 x 32 x 32,
channel-major), five training batches and one test batch.

Read from the extracted ``cifar-10-batches-bin/*.bin`` files or straight from the
``cifar-10-binary.tar.gz`` archive (members are read in memory, never extracted, and
only regular files with the expected names are read). The pickled "python version" is
never used: unpickling a download runs code.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

from aelab.errors import DataError

SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32
NUM_CLASSES = 10
BATCH_DIR = "cifar-10-batches-bin"
SPLIT_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
HINT = "Delete it and fetch it again (aelab data fetch cifar10 --force), or pass --data-dir."


def records_from_bytes(data: bytes, *, source: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """images (N, 3, 32, 32) uint8 and labels (N,) int64 from concatenated records."""
    if len(data) == 0 or len(data) % RECORD:
        raise DataError(
            f"{source}: size {len(data):,} bytes is not a positive multiple of the CIFAR-10 "
            f"record size {RECORD} (1 label byte + 3072 pixel bytes); truncated or not the "
            f"binary version. {HINT}"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0]
    if int(labels.max()) >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(
            f"{source}: label {int(labels[bad])} in record {bad} is out of range (expected 0 "
            f"to {NUM_CLASSES - 1}). {HINT}"
        )
    images = records[:, 1:].reshape(-1, *SHAPE)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def encode_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The binary records of images (N, 3, 32, 32) uint8 and labels (N,)."""
    images = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    labels = np.asarray(labels, dtype=np.uint8).reshape(-1, 1)
    return np.concatenate([labels, images], axis=1).tobytes()


def batch_dir(directory: Path) -> Path | None:
    """The folder holding the ``.bin`` batches: ``directory`` or its ``cifar-10-batches-bin``."""
    for candidate in (directory / BATCH_DIR, directory):
        if all((candidate / f).is_file() for files in SPLIT_FILES.values() for f in files):
            return candidate
    return None


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return images, labels


def read_split_from_dir(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split from the extracted ``.bin`` batches in ``directory``."""
    return _concat(
        [
            records_from_bytes((directory / f).read_bytes(), source=directory / f)
            for f in SPLIT_FILES[split]
        ]
    )


def read_split_from_archive(archive: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split read in memory from ``cifar-10-binary.tar.gz`` (nothing is extracted)."""
    wanted = SPLIT_FILES[split]
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = Path(member.name).name
                if name in wanted and member.isfile():
                    stream = tar.extractfile(member)
                    assert stream is not None  # regular files always have a stream
                    found[name] = stream.read()
                    if len(found) == len(wanted):
                        break
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{archive}: not a readable tar.gz archive ({exc}). {HINT}") from None
    missing = [f for f in wanted if f not in found]
    if missing:
        raise DataError(
            f"{archive}: the archive lacks {', '.join(missing)} (expected the CIFAR-10 binary "
            f"version with {', '.join(wanted)}). {HINT}"
        )
    return _concat([records_from_bytes(found[f], source=f"{archive}:{f}") for f in wanted])
