"""Datasets: resolve by name, validate, load as uint8 splits, batch on the fly.

``load_dataset(DataConfig(...), seed=0)`` -> ``DatasetSplits``; ``dataset_names()``;
``fetch(name)`` downloads (verified, atomic); ``locate(name)`` says where a dataset is
found (see ``resolve.RESOLUTION_ORDER``); ``Batcher`` yields float batches from uint8.
"""

from __future__ import annotations

from aelab.data.batcher import Batcher
from aelab.data.download import fetch
from aelab.data.load import load_dataset, load_split
from aelab.data.resolve import RESOLUTION_ORDER, locate
from aelab.data.sources import dataset_names
from aelab.data.splits import DatasetSplits, Split

__all__ = [
    "RESOLUTION_ORDER",
    "Batcher",
    "DatasetSplits",
    "Split",
    "dataset_names",
    "fetch",
    "load_dataset",
    "load_split",
    "locate",
]
