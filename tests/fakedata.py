"""Tiny honest datasets for tests: every class is a distinct pattern plus noise, so
there is structure to learn, written in the real on-disk formats or built in memory.

    write_idx_dataset(dir, n_train=200, n_test=50)      -> the four IDX files
    write_cifar_binary(dir, n_train=50, n_test=20)      -> tar.gz and/or .bin batches
    tiny_splits(n=256, shape=(1, 28, 28), classes=10)   -> DatasetSplits in memory
    with serve_directory(dir) as server: server.url     -> a loopback HTTP mirror

Load written IDX files with ``DataConfig(dataset=f"idx:{dir}")`` (no checksum), or
``DataConfig(dataset="mnist", data_dir=dir)`` for the training files only (the
registry checks the known SHA-256 of the real test files).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aelab.data import cifar, idx
from aelab.data.splits import DatasetSplits, Split, split_indices


def class_images(labels: np.ndarray, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """(N, C, H, W) uint8: class k is a bright bar at angle k*pi/classes with a class
    colour, plus noise; a nearest-centroid classifier separates the classes."""
    rng = np.random.default_rng(seed)
    c, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    yy = (yy - (h - 1) / 2) / max(h, 1)
    xx = (xx - (w - 1) / 2) / max(w, 1)
    num_classes = int(labels.max(initial=0)) + 1
    patterns = []
    for k in range(num_classes):
        angle = np.pi * k / max(num_classes, 1)
        distance = np.abs(xx * np.sin(angle) - yy * np.cos(angle))
        bar = np.clip(1.0 - distance / 0.12, 0, 1)
        colour = 0.5 + 0.5 * np.cos(2 * np.pi * (k / max(num_classes, 1) + np.arange(c) / 3))
        patterns.append(bar[None] * (colour[:, None, None] if c > 1 else 1.0))
    base = np.stack(patterns)[labels]
    shift = rng.integers(-1, 2, size=(len(labels), 2))
    for i, (dy, dx) in enumerate(shift):
        base[i] = np.roll(base[i], (dy, dx), axis=(1, 2))
    noisy = base * rng.uniform(0.7, 1.0, size=(len(labels), 1, 1, 1)) + rng.normal(
        0, 0.05, base.shape
    )
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8)


def balanced_labels(n: int, classes: int, seed: int = 0) -> np.ndarray:
    """(N,) int64 labels with every class (nearly) equally frequent, shuffled."""
    return np.random.default_rng(seed).permutation(np.arange(n) % classes).astype(np.int64)


def tiny_splits(
    n: int = 256,
    shape: tuple[int, int, int] = (1, 28, 28),
    classes: int = 10,
    seed: int = 0,
    *,
    n_test: int | None = None,
    val: int = 0,
    name: str = "tiny",
) -> DatasetSplits:
    """A DatasetSplits built in memory: ``n`` train images (minus ``val`` held out as
    validation), ``n_test`` (default n // 4) test images."""
    n_test = max(1, n // 4) if n_test is None else n_test
    y_train, y_test = balanced_labels(n, classes, seed), balanced_labels(n_test, classes, seed + 1)
    train = Split(class_images(y_train, shape, seed), y_train)
    test = Split(class_images(y_test, shape, seed + 1), y_test)
    val_split = None
    if val:
        rest, held = split_indices(n, val, seed)
        train, val_split = train.take(rest), train.take(held)
    return DatasetSplits(name, train, test, val_split, tuple(str(k) for k in range(classes)))


def write_idx_dataset(
    directory: str | Path,
    n_train: int = 200,
    n_test: int = 50,
    shape: tuple[int, int] = (28, 28),
    classes: int = 10,
    seed: int = 0,
    gz: bool = True,
) -> dict[str, Path]:
    """Write train/t10k images and labels as IDX (MNIST names); returns role -> path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    out = {}
    for split, prefix, n, s in (
        ("train", "train", n_train, seed),
        ("test", "t10k", n_test, seed + 1),
    ):
        labels = balanced_labels(n, classes, s)
        images = class_images(labels, (1, *shape), s)[:, 0]
        out[f"{split}_images"] = idx.write(
            directory / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz
        )
        out[f"{split}_labels"] = idx.write(
            directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz
        )
    return out


def write_cifar_binary(
    directory: str | Path,
    n_train: int = 50,
    n_test: int = 20,
    seed: int = 0,
    *,
    archive: bool = True,
    batches: bool = False,
) -> dict[str, Path]:
    """Write CIFAR-10 binary data: ``cifar-10-binary.tar.gz`` (``archive``) and/or the
    extracted ``cifar-10-batches-bin/*.bin`` (``batches``). Train records are spread
    over the five batch files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    members: dict[str, bytes] = {}
    y = balanced_labels(n_train, 10, seed)
    x = class_images(y, cifar.SHAPE, seed)
    for i, part in enumerate(np.array_split(np.arange(n_train), 5), 1):
        members[f"data_batch_{i}.bin"] = cifar.encode_records(x[part], y[part])
    y = balanced_labels(n_test, 10, seed + 1)
    members["test_batch.bin"] = cifar.encode_records(class_images(y, cifar.SHAPE, seed + 1), y)
    members["batches.meta.txt"] = "\n".join(
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    ).encode()
    out = {}
    if batches:
        folder = directory / cifar.BATCH_DIR
        folder.mkdir(exist_ok=True)
        for name, data in members.items():
            (folder / name).write_bytes(data)
        out["batches"] = folder
    if archive:
        path = directory / "cifar-10-binary.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(f"{cifar.BATCH_DIR}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out["archive"] = path
    return out


@dataclass
class LoopbackServer:
    """A running loopback mirror: ``url`` is its base; ``requests`` the paths asked for."""

    url: str
    requests: list[str] = field(default_factory=list)


class _Handler(http.server.SimpleHTTPRequestHandler):
    server_state: LoopbackServer
    break_after: int | None = None

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.server_state.requests.append(self.path)
        if self.break_after is None:
            return super().do_GET()
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return self.send_error(404)
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: self.break_after])  # then the connection closes early
        self.close_connection = True
        return None


@contextlib.contextmanager
def serve_directory(
    directory: str | Path, *, break_after: int | None = None
) -> Iterator[LoopbackServer]:
    """Serve ``directory`` over HTTP on 127.0.0.1 in a thread. ``break_after``: send only
    that many bytes of each file (with the full Content-Length), like a broken transfer."""
    state = LoopbackServer(url="")
    handler = type(
        "Handler",
        (_Handler,),
        {"server_state": state, "break_after": break_after},
    )
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
