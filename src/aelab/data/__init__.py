"""Datasets: resolve by name, validate, load as uint8 splits, batch on the fly.

``load_dataset(DataConfig(...), seed=0)`` -> ``DatasetSplits``; ``dataset_names()``;
``as_splits(data)`` takes any source (names, arrays, tensors, torch datasets, loaders);
``fetch(name)`` downloads (verified, atomic); ``locate(name)`` says where a dataset is
found (see ``resolve.RESOLUTION_ORDER``); ``Batcher`` yields float batches from uint8.
"""

from __future__ import annotations

from aelab.data.batcher import Batcher
from aelab.data.download import fetch
from aelab.data.inputs import as_splits
from aelab.data.load import load_dataset, load_split
from aelab.data.resolve import RESOLUTION_ORDER, locate
from aelab.data.sources import dataset_names
from aelab.data.splits import DatasetSplits, Split, is_image
from aelab.data.stream import LoaderSource, Stream, StreamSplits

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
