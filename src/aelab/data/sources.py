"""The registry of named datasets: their files, canonical mirrors, checksums and classes.

A dataset is found on disk by its file names (see ``resolve.py``) and fetched from its
mirrors (see ``download.py``). Checksums, as published with each dataset:
``md5`` is the canonical MD5 of the file as published (the gzip bytes), checked on
download; ``sha256`` is the SHA-256 of the *decompressed* content, checked on every
load, so re-compressed copies (Debian's) are accepted and corrupt ones are not.
``None`` means the value was not recorded; that file then gets structural checks only.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.errors import DataError, did_you_mean


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset. ``role``: ``train_images``, ``train_labels``, ``test_images``,
    ``test_labels`` (IDX) or ``archive`` (CIFAR)."""

    role: str
    filename: str
    md5: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Source:
    """A named dataset. ``format`` picks the reader: ``idx`` or ``cifar``."""

    name: str
    format: str
    files: tuple[DataFile, ...]
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    shape: tuple[int, int, int]
    num_train: int
    num_test: int
    system_dirs: tuple[str, ...] = ()
    apt_package: str | None = None
    homepage: str = ""

    def file(self, role: str) -> DataFile:
        for f in self.files:
            if f.role == role:
                return f
        raise KeyError(role)

    def urls(self, data_file: DataFile) -> list[str]:
        return [mirror.rstrip("/") + "/" + data_file.filename for mirror in self.mirrors]


SOURCES: dict[str, Source] = {}


def register_source(source: Source) -> Source:
    """Add a dataset to the registry; a name can be registered once."""
    if source.name in SOURCES:
        raise ValueError(f"dataset {source.name!r} is already registered")
    SOURCES[source.name] = source
    return source


def get_source(name: str) -> Source:
    """The registered dataset ``name``; unknown names list the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise DataError(
            f"unknown dataset {name!r}: expected one of {known}, or folder:PATH, idx:PATH, "
            f"npy:PATH, npz:PATH.{did_you_mean(name, SOURCES)}"
        ) from None


def identify(sha256: str) -> tuple[Source, DataFile] | None:
    """The known dataset file whose decompressed content has this SHA-256, or None: files
    found under another dataset's name are named, never called corrupt."""
    for source in SOURCES.values():
        for data_file in source.files:
            if data_file.sha256 == sha256:
                return source, data_file
    return None


def dataset_names() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(SOURCES)


MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

register_source(
    Source(
        name="mnist",
        format="idx",
        files=(
            DataFile(
                "train_images", "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"
            ),
            DataFile(
                "train_labels", "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"
            ),
            DataFile(
                "test_images",
                "t10k-images-idx3-ubyte.gz",
                "9fb629c4189551a2d022fa330f9573f3",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            DataFile(
                "test_labels",
                "t10k-labels-idx1-ubyte.gz",
                "ec29112dd5afa0611ce80d1b7f02629c",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        classes=MNIST_CLASSES,
        shape=(1, 28, 28),
        num_train=60000,
        num_test=10000,
        system_dirs=("/usr/share/datasets/mnist",),
        homepage="http://yann.lecun.com/exdb/mnist/",
    )
)

register_source(
    Source(
        name="fashion-mnist",
        format="idx",
        files=(
            DataFile(
                "train_images",
                "train-images-idx3-ubyte.gz",
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            DataFile(
                "train_labels",
                "train-labels-idx1-ubyte.gz",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            DataFile(
                "test_images",
                "t10k-images-idx3-ubyte.gz",
                "bef4ecab320f06d8554ea6380940ec79",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            DataFile(
                "test_labels",
                "t10k-labels-idx1-ubyte.gz",
                "bb300cfdad3c16e7a12a480ee83cd310",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        classes=FASHION_CLASSES,
        shape=(1, 28, 28),
        num_train=60000,
        num_test=10000,
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        apt_package="dataset-fashion-mnist",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
    )
)

register_source(
    Source(
        name="cifar10",
        format="cifar",
        files=(
            # The binary version only: the "python version" is pickled, and unpickling
            # a download runs code.
            DataFile("archive", "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),
        ),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        classes=CIFAR10_CLASSES,
        shape=(3, 32, 32),
        num_train=50000,
        num_test=10000,
        system_dirs=("/usr/share/datasets/cifar10", "/usr/share/datasets/cifar-10"),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    )
)
