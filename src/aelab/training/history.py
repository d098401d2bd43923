"""A run's history: one row per epoch (the rows of history.csv), read by column too.

Both ``aelab.train`` and :func:`aelab.training.train` return this one shape:
``history[-1]["val_loss"]`` (a row), ``history["val_loss"]`` (the column as a float
array, NaN where an epoch has no value), ``history.columns``; ``pandas.DataFrame(history)``
gives the table.
"""

from __future__ import annotations

from typing import Any, SupportsIndex, overload

import numpy as np


class History(list):
    """Per-epoch rows (``dict[str, float]``) that also answer column names:
    ``history["val_loss"]`` -> (epochs,) float array; ``"val_loss" in history``."""

    @property
    def columns(self) -> list[str]:
        """The column names in first-seen order (``epoch``, ``train_loss``, ...)."""
        names: dict[str, None] = {}
        for row in self:
            names.update(dict.fromkeys(row))
        return list(names)

    @overload
    def __getitem__(self, key: str) -> np.ndarray: ...
    @overload
    def __getitem__(self, key: SupportsIndex) -> dict[str, float]: ...
    @overload
    def __getitem__(self, key: slice) -> list[dict[str, float]]: ...
    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        if key not in self.columns:
            raise KeyError(f"history has no column {key!r}; it has {', '.join(self.columns)}")
        return np.array([row.get(key, np.nan) for row in self], dtype=float)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self.columns
        return super().__contains__(item)

    def to_dict(self) -> dict[str, np.ndarray]:
        """column -> (epochs,) float array."""
        return {name: self[name] for name in self.columns}


__all__ = ["History"]
