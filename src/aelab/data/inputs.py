"""``as_splits``: any data source -> the splits the trainer reads.

- a dataset name or spec (``"fashion-mnist"``, ``"npz:PATH"``) or a :class:`DataConfig`:
  :func:`~aelab.data.load.load_dataset`, unchanged (uint8 in memory);
- NumPy arrays or torch tensors (N, ...) with optional labels (N,): in memory, batched by
  index. uint8 stays uint8 (pixels 0-255); floats must lie in [0, 1] and stay float32 (never
  quantised). (N, D) are feature vectors, stored (N, 1, 1, D); (N, H, W), (N, H, W, C) and
  (N, C, H, W) are images;
- a torch ``Dataset`` (map-style), ``IterableDataset`` or ``DataLoader`` yielding ``x`` or
  ``(x, y)``: streamed through a DataLoader (:mod:`aelab.data.stream`), never held in memory.

Arrays and map-style datasets hold out a fixed 10% as the test split
(``splits.hold_out_test``, by index for a dataset, never read into memory), then
``val_size`` of the rest as validation (chosen by ``seed``). Iterable sources (an
``IterableDataset`` or a ``DataLoader``) cannot be split: they have no validation split and
their test split is the one passed as ``test=`` (without it there is nothing to evaluate
on, and :func:`aelab.train` says so before training). ``test=`` also replaces the held-out
10% of any other source: arrays (with ``(images, labels)`` for labels) for arrays, a torch
Dataset, IterableDataset or DataLoader for torch sources.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from aelab.data.arrays import check_labels, check_unit_range, to_nchw
from aelab.data.config import DataConfig
from aelab.data.load import load_dataset
from aelab.data.splits import (
    TEST_FRACTION,
    TEST_HOLDOUT_SEED,
    DatasetSplits,
    Split,
    hold_out_test,
    split_indices,
)
from aelab.data.stream import Stream, StreamSplits, item_input, sample_shape
from aelab.errors import DataError

VAL_FRACTION = 0.1  # validation share when val_size is not given (splittable sources)
PYTHON_PREFIX = "python:"  # the recorded dataset name of data passed from Python

Splits = DatasetSplits | StreamSplits


def as_splits(
    data: Any,
    *,
    labels: Any = None,
    val_size: int | float | None = None,
    seed: int = 0,
    name: str | None = None,
    test: Any = None,
) -> Splits:
    """``data`` (see the module docstring) as :class:`DatasetSplits` (in memory) or
    :class:`StreamSplits` (read through a DataLoader).

    ``val_size``: validation samples (an int) or share (a float in (0, 1)); 0 for none;
    None: 10% where the source can be split. ``name`` labels the data in runs (default
    ``python:<type>``). ``test``: the test split, instead of holding 10% out (see the
    module docstring). Splits already built are returned as they are.
    """
    if isinstance(data, (DatasetSplits, StreamSplits)):
        if test is not None:
            raise DataError(
                f"{data.name}: these splits already have their test split; pass test= with "
                "the raw data instead."
            )
        return data
    if isinstance(data, (str, DataConfig)):
        cfg = DataConfig(dataset=data) if isinstance(data, str) else data
        return load_dataset(cfg, seed=seed, progress=False)
    name = name or f"{PYTHON_PREFIX}{type(data).__name__}"
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return _from_arrays(data, labels, val_size, seed, name, test)
    if labels is not None:
        raise DataError(
            f"{name}: labels= is for arrays; a torch dataset yields (x, y) items instead."
        )
    if isinstance(data, (DataLoader, IterableDataset)):
        if val_size:
            raise DataError(
                f"{name}: a {type(data).__name__} cannot be split for validation "
                f"(val_size={val_size}); pass val_size=0, or a map-style Dataset."
            )
        train = Stream(data, _first_shape(data, name))
        return StreamSplits(name, train, test=_test_stream(test, train.shape, name))
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        return _from_dataset(data, val_size, seed, name, test)
    raise DataError(
        f"cannot train on {type(data).__name__}: expected a dataset name, DataConfig, NumPy "
        "array, torch tensor, torch Dataset (with __len__), IterableDataset or DataLoader."
    )


def _count(val_size: int | float | None, n: int, name: str) -> int:
    """``val_size`` as a number of samples out of ``n``."""
    if val_size is None:
        val_size = VAL_FRACTION
    k = round(val_size * n) if isinstance(val_size, float) and val_size < 1 else int(val_size)
    if k < 0 or (k and k >= n) or (isinstance(val_size, float) and not 0 <= val_size < 1):
        raise DataError(
            f"{name}: val_size={val_size} cannot be held out of {n:,} samples (expected a "
            f"count 0 to {n - 1:,} or a share in [0, 1))."
        )
    return k


def _array_split(x: Any, labels: Any, name: str) -> Split:
    """Arrays or tensors (N, ...) and optional labels (N,) as one in-memory Split."""
    images = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    if images.ndim == 2:  # feature vectors
        images = images[:, None, None, :]
    images = to_nchw(images, source=name)
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise DataError(
                f"{name}: samples have dtype {images.dtype}, expected uint8 (0-255) or float in "
                "[0, 1]; convert with .astype(np.uint8) or scale to [0, 1] as floats."
            )
        check_unit_range(images, source=name)
        images = images.astype(np.float32, copy=False)
    images = np.ascontiguousarray(images)
    return Split(
        images,
        check_labels(None if labels is None else np.asarray(labels), len(images), source=name),
    )


def _from_arrays(
    x: Any, labels: Any, val_size: Any, seed: int, name: str, test_data: Any
) -> DatasetSplits:
    pool = _array_split(x, labels, name)
    if test_data is None:
        train, test = hold_out_test(pool, source=name)
    else:
        if not isinstance(test_data, (np.ndarray, torch.Tensor, tuple)):
            raise DataError(
                f"{name}: test= for arrays takes arrays (or (images, labels)), found "
                f"{type(test_data).__name__}."
            )
        test_x, test_y = test_data if isinstance(test_data, tuple) else (test_data, None)
        train, test = pool, _array_split(test_x, test_y, f"{name} (test=)")
        if test.images.shape[1:] != pool.images.shape[1:]:
            raise DataError(
                f"{name}: test= samples have shape {list(test.images.shape[1:])}, the training "
                f"samples {list(pool.images.shape[1:])}; pass test data of the same shape."
            )
    val = None
    k = _count(val_size, len(train), name)
    if k:
        rest, held = split_indices(len(train), k, seed)
        train, val = train.take(rest), train.take(held)
    classes = _classes(pool.labels)
    return DatasetSplits(name=name, train=train, test=test, val=val, classes=classes)


def _classes(labels: np.ndarray | None) -> tuple[str, ...] | None:
    if labels is None or not len(labels):
        return None
    return tuple(str(i) for i in range(int(labels.max()) + 1))


def _from_dataset(
    data: Dataset, val_size: Any, seed: int, name: str, test_data: Any
) -> StreamSplits:
    n = len(data)  # type: ignore[arg-type]
    if n == 0:
        raise DataError(f"{name}: the dataset is empty.")
    shape = _checked_shape(data, n, name)
    if test_data is None:  # the arrays' fixed 10%, by index
        if n < 2:
            raise DataError(
                f"{name}: holds 1 sample, expected at least 2 (without test=, "
                f"{TEST_FRACTION:.0%} is held out as the test split); add samples."
            )
        pool, held_test = split_indices(n, max(1, round(n * TEST_FRACTION)), TEST_HOLDOUT_SEED)
        test = Stream(data, shape, held_test)
    else:
        pool, test = np.arange(n), _test_stream(test_data, shape, name)
    k = _count(val_size, len(pool), name)
    if not k:
        return StreamSplits(name, Stream(data, shape, pool), test=test)
    rest, held = split_indices(len(pool), k, seed)
    return StreamSplits(
        name, Stream(data, shape, pool[rest]), Stream(data, shape, pool[held]), test=test
    )


def _test_stream(test: Any, shape: tuple[int, int, int], name: str) -> Stream | None:
    """``test=`` of a torch source as a Stream of the training samples' shape (None: none)."""
    if test is None:
        return None
    source = f"{name} (test=)"
    if isinstance(test, (DataLoader, IterableDataset)):
        found = _first_shape(test, source)
    elif isinstance(test, Dataset) and hasattr(test, "__len__"):
        if len(test) == 0:  # type: ignore[arg-type]
            raise DataError(f"{source}: the dataset is empty.")
        found = _checked_shape(test, len(test), source)  # type: ignore[arg-type]
    else:
        raise DataError(
            f"{source}: expected a torch Dataset (with __len__), IterableDataset or "
            f"DataLoader like the training data, found {type(test).__name__}."
        )
    if found != shape:
        raise DataError(
            f"{source}: samples have shape {list(found)}, the training samples "
            f"{list(shape)}; pass test data of the same shape."
        )
    return Stream(test, shape)


SAMPLED_ITEMS = 8  # items of a map-style dataset read before training (first, last, between)


def _checked_shape(data: Dataset, n: int, name: str) -> tuple[int, int, int]:
    """One sample's (C, H, W), after reading a few items spread over the dataset: items of
    another structure or size fail here, before training, not in the middle of an epoch."""
    picks = sorted({round(i * (n - 1) / max(SAMPLED_ITEMS - 1, 1)) for i in range(SAMPLED_ITEMS)})
    first = tuple(item_input(data[0], source=name).shape)
    for i in picks[1:]:
        found = tuple(item_input(data[i], source=name).shape)
        if found != first:
            raise DataError(
                f"{name}: item {i} has shape {list(found)}, item 0 {list(first)}; every item "
                "must have one shape (resize or crop them in the dataset, e.g. a transform)."
            )
    return sample_shape(first, source=name)


def _first_shape(data: DataLoader | IterableDataset, name: str) -> tuple[int, int, int]:
    """One sample's (C, H, W), from the first item (or batch, for a DataLoader)."""
    try:
        first = next(iter(data))
    except StopIteration:
        raise DataError(f"{name}: yields no items.") from None
    x = item_input(first, source=name)
    return sample_shape(x.shape[1:] if isinstance(data, DataLoader) else x.shape, source=name)
