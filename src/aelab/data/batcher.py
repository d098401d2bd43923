"""In-memory batching: shuffled batches by indexing one tensor, normalised on the fly.

No per-sample Python and no worker processes: each batch is one ``index_select`` on a
tensor that already lives on the training device, then one conversion to float in [0, 1].
Keeping pixel data uint8 needs 4x less memory than float32; float32 data (features passed
from Python) is batched as it is.

:class:`BatchSource` is what the trainer iterates: the :class:`Batcher` here, or
:class:`aelab.data.stream.LoaderSource` for data read through a DataLoader.

Memory-mapped images (``DataConfig.mmap``: a NumPy ``memmap``) stay on disk: each batch
reads only its rows (in ascending order, which the page cache likes) and copies them
to the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from torch import Tensor


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The RNG that orders one epoch. A pure function of (seed, epoch), so a resumed run
    sees exactly the batches the uninterrupted run would have seen."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class BatchSource(Protocol):
    """Float batches (B, C, H, W) in [0, 1] on the training device, one epoch per iteration.

    ``num_batches`` is the number of batches per epoch, or None when the source cannot
    know it (an IterableDataset without ``__len__``); ``set_epoch`` fixes the order of the
    next iteration, so the same (seed, epoch) always gives the same batches."""

    @property
    def num_batches(self) -> int | None: ...

    def set_epoch(self, epoch: int) -> None: ...

    def __iter__(self) -> Iterator[Tensor]: ...


def epoch_order(
    n: int, seed: int, epoch: int, *, shuffle: bool = True, rank: int = 0, world_size: int = 1
) -> Tensor:
    """The sample order of one epoch on one rank: a permutation of ``range(n)`` drawn from
    ``epoch_generator(seed, epoch)`` (or ``arange`` without shuffling), padded by wrapping to
    a multiple of ``world_size`` and strided by ``rank``, so ranks see disjoint shards."""
    order = (
        torch.randperm(n, generator=epoch_generator(seed, epoch)) if shuffle else torch.arange(n)
    )
    if world_size > 1:
        total = -(-n // world_size) * world_size
        if total > n:
            order = torch.cat([order, order[: total - n]])
        order = order[rank::world_size]
    return order


def to_unit_float(batch: Tensor) -> Tensor:
    """uint8 pixels -> float32 in [0, 1] (divided by 255); float batches -> float32."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(255.0)
    return batch.float()


class Batcher:
    """Batches of ``images`` (N, C, H, W) uint8 or float32 as float (B, C, H, W) in [0, 1].

    For DDP, ``rank``/``world_size`` give each process a disjoint shard of every epoch's
    permutation (padded by wrapping so all ranks take the same number of steps).
    """

    def __init__(
        self,
        images: Tensor | np.ndarray,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if images.dtype not in (torch.uint8, np.uint8, torch.float32, np.float32):
            raise TypeError(f"Batcher expects uint8 or float32 images, got {images.dtype}")
        if isinstance(images, np.ndarray) and not isinstance(images, np.memmap):
            images = torch.from_numpy(images)
        if isinstance(images, np.memmap):
            self.device = torch.device(device) if device is not None else torch.device("cpu")
        else:
            self.device = torch.device(device) if device is not None else images.device
            images = images.to(self.device) if images.device != self.device else images
        self.images = images
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        n = len(self.images)
        return -(-n // self.world_size)

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_batches(self) -> int:
        return len(self)

    def _order(self) -> Tensor:
        return epoch_order(
            len(self.images),
            self.seed,
            self.epoch,
            shuffle=self.shuffle,
            rank=self.rank,
            world_size=self.world_size,
        )

    def __iter__(self) -> Iterator[Tensor]:
        if isinstance(self.images, np.memmap):
            yield from self._iter_mapped()
            return
        order = self._order().to(self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield to_unit_float(self.images.index_select(0, idx))

    def _iter_mapped(self) -> Iterator[Tensor]:
        order = self._order().numpy()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start : start + self.batch_size]
            rows = np.sort(idx)
            inverse = np.argsort(np.argsort(idx))  # back to the shuffled order
            batch = torch.from_numpy(np.ascontiguousarray(self.images[rows][inverse]))
            yield to_unit_float(batch.to(self.device))
