"""Data streamed in batches instead of held in memory: a torch ``Dataset`` (map-style),
an ``IterableDataset`` or a ready ``DataLoader``.

:class:`Stream` is one split of such a source (a map-style dataset may be cut into train
and validation by index); :class:`LoaderSource` is the trainer's
:class:`~aelab.data.batcher.BatchSource` over it. Items are ``x`` or ``(x, y)`` (labels are
not needed to train); ``x`` is uint8 (0-255) or float in [0, 1] of the stream's shape or
flat with as many values.

Determinism and speed: a map-style dataset is ordered by
:func:`~aelab.data.batcher.epoch_order` (the in-memory batcher's order) and fetched a whole
batch at a time in this process (``index_select`` for a ``TensorDataset``, else
``__getitems__`` or the items and one collate), without a DataLoader (its per-batch
machinery costs about 1 ms); to read in worker processes, pass your own
``DataLoader(dataset, num_workers=...)``. A DataLoader you pass has its ``RandomSampler``
and worker seeds drawn from ``epoch_generator(seed, epoch)``; an IterableDataset is read in
its own order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, RandomSampler, TensorDataset
from torch.utils.data._utils.collate import default_collate

from aelab.data.batcher import Batcher, BatchSource, epoch_generator, epoch_order, to_unit_float
from aelab.data.splits import Split, is_image
from aelab.errors import ConfigError, DataError, one_line

TorchData = Dataset | IterableDataset | DataLoader


def item_input(item: Any, *, source: str) -> Tensor:
    """The ``x`` of an item or batch that is ``x``, ``(x,)``, ``(x, y)`` or ``[x, y]``, as a
    tensor; any other structure (a triple, a dict) is an error, not a guess."""
    if isinstance(item, (tuple, list)) and len(item) not in (1, 2):
        raise DataError(
            f"{source}: items must be x or (x, y), found a {type(item).__name__} of "
            f"{len(item)}; return (image, label) or the image alone from __getitem__."
        )
    x = item[0] if isinstance(item, (tuple, list)) else item
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise DataError(
            f"{source}: items must be x or (x, y) with x a tensor or numpy array, found "
            f"{type(x).__name__}."
        )
    return x


def item_label(item: Any) -> np.ndarray | None:
    """The ``y`` of an ``(x, y)`` item or batch as a NumPy array (whatever it holds: class
    indices, names, one-hots), None for ``x`` alone."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return None
    y = item[1]
    return y.detach().cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)


def sample_shape(shape: Sequence[int], *, source: str) -> tuple[int, int, int]:
    """The (C, H, W) of one sample of ``shape``: (D,) -> (1, 1, D), (H, W) -> (1, H, W),
    (C, H, W) as it is (torch's channels-first convention)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return 1, 1, shape[0]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    raise DataError(
        f"{source}: a sample has shape {list(shape)}, expected (D,) features, (H, W) or "
        "(C, H, W) images."
    )


@dataclass(frozen=True)
class Stream:
    """One split read through a DataLoader. ``data`` is a Dataset, IterableDataset or
    DataLoader; ``indices`` select a part of a map-style dataset (None: all of it);
    ``shape`` is one sample's (C, H, W)."""

    data: TorchData
    shape: tuple[int, int, int]
    indices: np.ndarray | None = None

    @property
    def num_samples(self) -> int | None:
        """Samples per epoch, or None when the source has no length."""
        if self.indices is not None:
            return len(self.indices)
        target = self.data.dataset if isinstance(self.data, DataLoader) else self.data
        try:
            return len(target)  # type: ignore[arg-type]
        except TypeError:
            return None


@dataclass(frozen=True)
class StreamSplits:
    """A dataset read through DataLoaders: ``train``, optionally ``val`` (map-style datasets
    only) and ``test`` (held out of a map-style dataset, or given; None: nothing to
    evaluate on). Evaluation reads the test split batch by batch
    (:mod:`aelab.evaluation.streamed`)."""

    name: str
    train: Stream
    val: Stream | None = None
    classes: tuple[str, ...] | None = None
    test: Stream | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.train.shape

    @property
    def is_image(self) -> bool:
        return is_image(self.shape)


class BatchFetch(Dataset):
    """A map-style dataset indexed by a whole batch of indices: ``index_select`` for a
    ``TensorDataset``, else the dataset's ``__getitems__`` (or its items) and one collate."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, indices: Tensor) -> Any:
        if isinstance(self.dataset, TensorDataset):  # index_select: ~10x advanced indexing
            return tuple(t.index_select(0, indices) for t in self.dataset.tensors)
        keys = indices.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        items = getitems(keys) if getitems is not None else [self.dataset[i] for i in keys]
        try:
            return default_collate(items)
        except (RuntimeError, TypeError) as exc:  # items of different sizes or types
            name = type(self.dataset).__name__
            raise DataError(
                f"{name}: items {keys[0]}..{keys[-1]} cannot form one batch "
                f"({one_line(exc, 160)}); every item must be x or (x, y) with x of one shape."
            ) from None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]


class LoaderSource:
    """Float batches (B, C, H, W) in [0, 1] on ``device`` from a :class:`Stream`.

    Map-style datasets are shuffled by ``epoch_order`` and sharded across DDP ranks like
    the in-memory :class:`~aelab.data.batcher.Batcher`; iterable datasets and DataLoaders
    are read as they come (one process only).
    """

    def __init__(
        self,
        stream: Stream,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if world_size > 1 and isinstance(stream.data, (IterableDataset, DataLoader)):
            raise ConfigError(
                f"a {type(stream.data).__name__} cannot be sharded across {world_size} "
                "processes by aelab; pass a map-style Dataset (aelab shards it) or train in "
                "one process."
            )
        self.stream = stream
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.device = torch.device(device)
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.source = type(stream.data).__name__

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def num_batches(self) -> int | None:
        if isinstance(self.stream.data, DataLoader):
            try:
                return len(self.stream.data)
            except TypeError:
                return None
        n = self.stream.num_samples
        if n is None:
            return None
        per_rank = -(-n // self.world_size)
        return -(-per_rank // self.batch_size)

    def _loader(self) -> Iterable[Any]:
        data = self.stream.data
        if isinstance(data, DataLoader):
            if isinstance(data.sampler, RandomSampler):
                data.sampler.generator = epoch_generator(self.seed, self.epoch)
            data.generator = epoch_generator(self.seed, self.epoch)
            return data
        if isinstance(data, IterableDataset):
            return DataLoader(
                data,
                batch_size=self.batch_size,
                generator=epoch_generator(self.seed, self.epoch),
                pin_memory=self.device.type == "cuda",
            )
        indices = self.stream.indices
        order = epoch_order(
            len(indices) if indices is not None else len(data),  # type: ignore[arg-type]
            self.seed,
            self.epoch,
            shuffle=self.shuffle,
            rank=self.rank,
            world_size=self.world_size,
        )
        if indices is not None:
            order = torch.from_numpy(indices)[order]
        fetch = BatchFetch(data)
        return (fetch[idx] for idx in order.split(self.batch_size))

    def __iter__(self) -> Iterator[Tensor]:
        for x, _ in self.pairs():
            yield x

    def pairs(self) -> Iterator[tuple[Tensor, np.ndarray | None]]:
        """The batches with their labels: ``(x, y)``, y None for items without labels."""
        c, h, w = self.stream.shape
        checked = False
        for item in self._loader():
            x = item_input(item, source=self.source)
            y = item_label(item)
            if x.dim() == 0 or x[0].numel() != c * h * w:
                raise DataError(
                    f"{self.source}: a batch has shape {list(x.shape)}, expected samples of "
                    f"shape {[c, h, w]} (or {c * h * w} values each) like the first one."
                )
            x = to_unit_float(x.to(self.device, non_blocking=True).reshape(-1, c, h, w))
            if not checked:  # one host sync per epoch: the first batch's range
                check_unit_batch(x, source=self.source)
                checked = True
            yield x, y


def check_unit_batch(x: Tensor, *, source: str) -> None:
    """Raise a DataError unless the float batch ``x`` is finite and within [0, 1]."""
    low, high = (float(v) for v in torch.aminmax(x))
    if not (low >= 0.0 and high <= 1.0):  # also False for NaN
        raise DataError(
            f"{source}: batch values range from {low:g} to {high:g}, expected uint8 (0-255) "
            "or floats in [0, 1]; scale the data (e.g. divide by 255 or min-max scale)."
        )


def batch_source(split: Split | Stream, batch_size: int, **options: Any) -> BatchSource:
    """The trainer's batches of ``split``: the in-memory :class:`Batcher` for a
    :class:`Split`, a :class:`LoaderSource` for a :class:`Stream`. ``options`` are theirs:
    ``shuffle``, ``seed``, ``device``, ``rank``, ``world_size``."""
    if isinstance(split, Stream):
        return LoaderSource(split, batch_size, **options)
    images = split.images
    if isinstance(images, np.ndarray) and not isinstance(images, np.memmap):
        # copied only when numpy marks it read-only or it is not contiguous
        if not images.flags.writeable or not images.flags.c_contiguous:
            images = np.array(images, copy=True, order="C")
        images = torch.from_numpy(images)
    return Batcher(images, batch_size, **options)
