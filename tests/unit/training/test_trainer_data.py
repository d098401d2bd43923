"""train(data=...) on every kind of source: same source and seed -> the same history."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models.dense import DenseConfig
from aelab.training import train

N, D, RANK = 240, 16, 3


def low_rank_rows(n: int = N, seed: int = 0) -> np.ndarray:
    """Tabular data a small code can explain: a rank-3 Gaussian plus noise, squashed to (0, 1)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, RANK))
    mixing = rng.standard_normal((RANK, D))
    x = z @ mixing + 0.1 * rng.standard_normal((n, D))
    return (1 / (1 + np.exp(-x))).astype(np.float32)


class Rows(Dataset):
    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.x[i]), 0


class RowStream(IterableDataset):
    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __iter__(self):
        yield from (torch.from_numpy(r) for r in self.x)


SOURCES = {
    "numpy": lambda x: x,
    "tensor": lambda x: torch.from_numpy(x),
    "dataset": Rows,
    "iterable": RowStream,
    "loader": lambda x: DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=32, shuffle=True),
}


def config(seed: int = 0, family: str = "dense", **model) -> RunConfig:
    return RunConfig(
        name="rows",
        data=DataConfig(validation="split"),
        model=DenseConfig(latent_dim=RANK, hidden=(8,), **model)
        if family == "dense"
        else RunConfig.from_dict({"model": {"family": family, "latent_dim": RANK}}).model,
        train=TrainConfig(epochs=3, batch_size=32, lr=3e-3, seed=seed, device="cpu", threads=1),
    )


def history(result) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in result.history]


@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_source_trains_and_repeats_exactly(kind: str) -> None:
    x = low_rank_rows()
    runs = [train(config(seed), None, data=SOURCES[kind](x), quiet=True) for seed in (0, 0, 1)]
    first, again, other = (history(r) for r in runs)
    assert first == again
    assert first != other
    assert first[-1]["train_loss"] < first[0]["train_loss"]
    assert runs[0].config.model.input_shape == (1, 1, D)
    assert runs[0].config.data.dataset.startswith("python:")
    validated = kind in ("numpy", "tensor", "dataset")  # iterable sources cannot be split
    assert ("val_loss" in first[0]) == validated


def test_validation_none_holds_nothing_out() -> None:
    cfg = config()
    cfg = RunConfig(
        name="rows", data=DataConfig(validation="none"), model=cfg.model, train=cfg.train
    )
    result = train(cfg, None, data=Rows(low_rank_rows()), quiet=True)
    assert "val_loss" not in result.history[0]
    assert result.images_per_s > 0 and result.history[0]["epoch"] == 1


def test_conv_on_feature_vectors_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"input_shape=\[1, 1, 16\].*family 'conv'"):
        train(config(family="conv"), None, data=low_rank_rows(), quiet=True)
