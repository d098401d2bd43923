"""Datasets: resolve by name, validate, load as uint8 splits, batch on the fly.

``load_dataset(DataConfig(...), seed=0)`` -> ``DatasetSplits``; ``dataset_names()``;
``as_splits(data)`` takes any source (names, arrays, tensors, torch datasets, loaders);
``fetch(name)`` downloads (verified, atomic); ``locate(name)`` says where a dataset is
found (see ``resolve.RESOLUTION_ORDER``); ``Batcher`` yields float batches from uint8.

The names are imported lazily: ``aelab data list`` and the CLI's start-up need neither
torch (``Batcher``) nor the readers, and must answer at once.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module under aelab.data
_LAZY: dict[str, str] = {
    "RESOLUTION_ORDER": "resolve",
    "Batcher": "batcher",
    "DatasetSplits": "splits",
    "Split": "splits",
    "is_image": "splits",
    "as_splits": "inputs",
    "LoaderSource": "stream",
    "Stream": "stream",
    "StreamSplits": "stream",
    "dataset_names": "sources",
    "fetch": "download",
    "load_dataset": "load",
    "load_split": "load",
    "locate": "resolve",
}


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'aelab.data' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"aelab.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "RESOLUTION_ORDER",
    "Batcher",
    "DatasetSplits",
    "LoaderSource",
    "Split",
    "Stream",
    "StreamSplits",
    "as_splits",
    "dataset_names",
    "fetch",
    "is_image",
    "load_dataset",
    "load_split",
    "locate",
]
