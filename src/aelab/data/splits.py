"""The in-memory form of a dataset: uint8 images (N, C, H, W) plus labels, per split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """images: (N, C, H, W) uint8; labels: (N,) int64, or None for unlabelled data."""

    images: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)


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
