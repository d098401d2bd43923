"""The in-memory form of a dataset: samples (N, C, H, W) plus labels, per split, and the
deterministic ways a split is cut in two.

Samples are uint8 pixels (0-255, 4x smaller than float) or float32 values in [0, 1] (data
passed from Python as floats is kept as floats, never quantised). Flat feature vectors
(N, D) are stored as (N, 1, 1, D): "image" only when height and width are both > 1
(:func:`is_image`), which decides whether SSIM and the image figures apply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aelab.errors import DataError

SAMPLE_DTYPES = (np.uint8, np.float32)

# Sources without their own test split (an image folder or a single array) hold out this
# fraction as the test set, always with the same seed, so every run tests on the same images.
TEST_FRACTION = 0.1
TEST_HOLDOUT_SEED = 0


@dataclass(frozen=True)
class Split:
    """images: (N, C, H, W) uint8 (0-255) or float32 in [0, 1]; labels: (N,) int64, or None
    for unlabelled data."""

    images: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype not in SAMPLE_DTYPES:
            raise DataError(
                f"a split needs images of shape (N, C, H, W) and dtype uint8 or float32, found shape "
                f"{tuple(self.images.shape)} and dtype {self.images.dtype}."
            )
        if self.labels is not None and len(self.labels) != len(self.images):
            raise DataError(
                f"a split has {len(self.images)} images but {len(self.labels)} labels (expected equal counts)."
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_samples(self) -> int:
        """``len(split)``, named like :attr:`aelab.data.stream.Stream.num_samples`."""
        return len(self.images)

    def take(self, index: np.ndarray | slice) -> Split:
        """The samples at ``index`` (a slice keeps memory-mapped images mapped)."""
        labels = None if self.labels is None else self.labels[index]
        return Split(self.images[index], labels)


@dataclass(frozen=True)
class DatasetSplits:
    """A resolved dataset. ``val`` is None when no validation split was asked for."""

    name: str
    train: Split
    test: Split
    val: Split | None = None
    classes: tuple[str, ...] | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def is_image(self) -> bool:
        return is_image(self.shape)

    def by_name(self) -> dict[str, Split | None]:
        """The splits by name, in order: train, val, test."""
        return {"train": self.train, "val": self.val, "test": self.test}


def check_not_empty(split: Split, *, source: str, name: str) -> Split:
    """``split`` unless it holds no images: every statistic, loss and metric of an empty
    split is undefined (a mean of nothing), so it is an error where the data is loaded."""
    if len(split) == 0:
        raise DataError(
            f"{source}: the {name} split holds 0 images (expected at least 1); check the "
            "files, or data.train_limit / data.test_limit."
        )
    return split


def is_image(shape: tuple[int, ...]) -> bool:
    """True when ``shape`` (C, H, W) is an image (height and width > 1), False for flat
    feature vectors (1, 1, D) and single rows: SSIM and image figures need images."""
    return len(shape) == 3 and shape[1] > 1 and shape[2] > 1


def split_indices(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``range(n)`` into (rest, held) with ``k`` held-out indices chosen by ``seed``.

    Both are sorted, so each part keeps the source order; the same (n, k, seed) always
    gives the same cut.
    """
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def hold_out_test(pool: Split, *, source: str) -> tuple[Split, Split]:
    """(train, test) for a source with no test split: a fixed ``TEST_FRACTION`` of ``pool``
    (at least one image each)."""
    n = len(pool)
    if n < 2:
        raise DataError(
            f"{source}: holds {n} image{'' if n == 1 else 's'}, expected at least 2 (without a "
            f"test split, {TEST_FRACTION:.0%} of the images are held out as test); add images."
        )
    k = max(1, round(n * TEST_FRACTION))
    rest, held = split_indices(n, k, TEST_HOLDOUT_SEED)
    return pool.take(rest), pool.take(held)
