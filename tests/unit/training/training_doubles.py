"""Test doubles for the trainer: tiny in-memory datasets and a fault-injecting model.

``tiny-faulty`` is a one-layer autoencoder whose loss can turn NaN, raise
KeyboardInterrupt or sleep at a given training step, to exercise the trainer's failure
paths. Import-safe in child processes (the kill and DDP tests); ``register()`` is
idempotent and ``unregister()`` removes it so other suites never see it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aelab.data.splits import DatasetSplits, Split
from aelab.models import registry
from aelab.models.base import Autoencoder, LossOutput

FAMILY = "tiny-faulty"


# Faults to inject, set by a test (monkeypatch): the training call (1-based, counted per
# model instance) whose loss is NaN / that raises KeyboardInterrupt; 0 = never. Kept out
# of the config so that a resumed run has the same config as the faulty one.
FAULTS = {"nan_at": 0, "interrupt_at": 0}


@dataclass(frozen=True)
class FaultyConfig(ModelConfig):
    """sleep: seconds per training call (to make epochs slow enough to kill mid-epoch)."""

    family: str = FAMILY
    sleep: float = 0.0


class FaultyAutoencoder(Autoencoder):
    config: FaultyConfig

    def __init__(self, config: FaultyConfig) -> None:
        super().__init__(config)
        d = math.prod(self.input_shape)
        self.enc = nn.Linear(d, config.latent_dim)
        self.dec = nn.Linear(config.latent_dim, d)
        self.calls = 0

    @property
    def regularizer(self) -> str:
        return "l1+noise:gaussian"

    def describe(self) -> str:
        return f"tiny-faulty {math.prod(self.input_shape)}-{self.latent_dim}"

    def encode(self, x: Tensor) -> Tensor:
        return F.relu(self.enc(x.flatten(1)))

    def decode(self, z: Tensor) -> Tensor:
        return self.dec(z).unflatten(1, self.input_shape)

    def loss(self, x: Tensor) -> LossOutput:
        target = x
        if self.training:
            self.calls += 1
            if self.config.sleep:
                time.sleep(self.config.sleep)
            if self.calls == FAULTS["interrupt_at"]:
                raise KeyboardInterrupt
            x = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)  # uses the run's RNG
        z = self.encode(x)
        rec = F.binary_cross_entropy_with_logits(self.decode(z), target)
        sparsity = 1e-3 * z.abs().sum(1).mean()
        if self.training and self.calls == FAULTS["nan_at"]:
            sparsity = sparsity * float("nan")
        return LossOutput(rec + sparsity, {"reconstruction": rec, "sparsity": sparsity})


def register() -> None:
    if FAMILY not in registry._FAMILIES:
        registry.register_model(FAMILY, FaultyConfig)(FaultyAutoencoder)


def unregister() -> None:
    registry._FAMILIES.pop(FAMILY, None)


def tiny_data(
    n_train: int = 192, n_val: int = 64, n_test: int = 64, seed: int = 0
) -> DatasetSplits:
    """Structured 1x8x8 uint8 images: random mixtures of 4 fixed patterns (learnable)."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((4, 64))

    def make(n: int) -> Split:
        mix = rng.dirichlet(np.ones(4), size=n)
        images = (mix @ patterns * 255).clip(0, 255).astype(np.uint8).reshape(n, 1, 8, 8)
        return Split(images, rng.integers(0, 4, n).astype(np.int64))

    return DatasetSplits(name="tiny", train=make(n_train), test=make(n_test), val=make(n_val))


def tiny_config(family: str = "dense", **train: object) -> RunConfig:
    """A small config on the tiny data: 3 epochs, batch 32, one thread."""
    model: dict[str, object] = {"family": family, "latent_dim": 8}
    if family == "dense":
        model["sparsity"] = {"kind": "l1", "weight": 1e-4}
    options = {"epochs": 3, "batch_size": 32, "threads": 1, "device": "cpu"} | train
    return RunConfig.from_dict(
        {
            "data": {"dataset": "tiny", "validation": "split", "val_size": 64},
            "model": model,
            "train": options,
        }
    )


__all__ = ["DataConfig", "TrainConfig", "tiny_config", "tiny_data"]
