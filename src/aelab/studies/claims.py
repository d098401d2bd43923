"""Measurements that settle claims about autoencoders, each on finished run directories:
reconstruction of noisy inputs, of images never seen (uniform noise), the class purity of
code units, the sparsity/reconstruction trade-off, and a dense model of a given size.

Each returns numbers; the page that quotes them formats them (``benchmarks/reproduce.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aelab.config import RunConfig
from aelab.data import load_dataset
from aelab.evaluation.evaluate import reconstruction_metrics
from aelab.layers.noise import gaussian
from aelab.metrics.code import ACTIVE_THRESHOLD, top_activating
from aelab.metrics.reconstruction import ReconstructionScores
from aelab.models.apply import encode_images, reconstruct_images
from aelab.models.registry import create_model
from aelab.training import load_run

# (L0, test MSE, label) of one sparse run; the points of a mechanism (``l1``, ``topk``).
TradeoffPoint = tuple[float | None, float | None, str]


def load_with_data(run_dir: Path) -> tuple[Any, RunConfig, Any]:
    """(model, config, DatasetSplits) of a finished run, its data loaded as it was trained."""
    model, cfg = load_run(run_dir)
    data = load_dataset(cfg.data, seed=cfg.train.seed, download=False, progress=False)
    return model, cfg, data


def collapsed(row: Mapping[str, Any] | None, code_size: int) -> bool:
    """Every code unit of a run is dead (zero on every test image): it reconstructs one image
    for every input. ``row`` is its comparison row."""
    return bool(row) and row.get("dead_units") == code_size


def denoising_scores(run_dir: Path, level: float, seed: int = 0) -> dict[str, float]:
    """Reconstruction scores of the test images corrupted with Gaussian noise ``level`` (the
    training corruption) against the clean images, plus ``input_mse``: the noisy input's own."""
    model, _, data = load_with_data(run_dir)
    clean = data.test.images.astype(np.float32) / 255.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        noisy = gaussian(torch.as_tensor(clean).clone(), level).numpy()
    acc = ReconstructionScores()
    acc.update(torch.as_tensor(reconstruct_images(model, noisy)), torch.as_tensor(clean))
    return {**acc.result(), "input_mse": float(((noisy - clean) ** 2).mean())}


@dataclass(frozen=True)
class NoiseReconstruction:
    """How well a model reconstructs uniform-noise images it never saw: ``mse``; the mean
    training image's error on them (``baseline``); ``relative`` = mse / baseline (0: the
    identity map, 1: no better than the mean image)."""

    mse: float
    baseline: float

    @property
    def relative(self) -> float:
        return self.mse / self.baseline


def noise_reconstruction(run_dir: Path, n: int = 1000, seed: int = 0) -> NoiseReconstruction:
    """Reconstruct ``n`` (at most the test set's size) uniform-noise images with the run's
    model: a model that learned the identity map reconstructs them too."""
    import torch

    model, _, data = load_with_data(run_dir)
    gen = np.random.default_rng(seed)
    images = gen.integers(0, 256, size=(min(n, len(data.test)), *data.shape), dtype=np.uint8)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mse = reconstruction_metrics(model, images)["mse"]
    mean_image = data.train.images.astype(np.float32).mean(0) / 255.0
    baseline = float(((images.astype(np.float32) / 255.0 - mean_image) ** 2).mean())
    return NoiseReconstruction(mse, baseline)


def unit_purity(run_dir: Path, k: int = 20) -> float | None:
    """Interpretability proxy: for each live code unit, the share of its ``k`` most-activating
    test images that belong to their most common class; averaged over live units. None
    without labels or live units."""

    model, _, data = load_with_data(run_dir)
    if data.test.labels is None:
        return None
    codes = encode_images(model, data.test.images)
    live = np.abs(codes).max(axis=0) > ACTIVE_THRESHOLD
    if not live.any():
        return None
    labels = np.asarray(data.test.labels)[top_activating(codes, k)[live]]
    return float(np.mean([np.bincount(row).max() / len(row) for row in labels]))


@dataclass(frozen=True)
class LowL0Winner:
    """The lowest test MSE among sparse runs at or below the median L0 of all of them."""

    median_l0: float
    mechanism: str
    label: str
    mse: float


def best_at_low_l0(points: Mapping[str, Sequence[TradeoffPoint]]) -> LowL0Winner | None:
    """The winner at low L0 over every mechanism's points; None when no sparse run
    finished (else the lowest L0 is at or below the median: there is a winner)."""
    every = [p for pts in points.values() for p in pts if p[0] is not None and p[1] is not None]
    if not every:
        return None
    median = float(np.median([p[0] for p in every]))
    best: LowL0Winner | None = None
    for kind, pts in points.items():
        for l0, mse, label in pts:
            if l0 is None or mse is None or l0 > median:
                continue
            if best is None or mse < best.mse:
                best = LowL0Winner(median, kind, label, mse)
    return best


def dense_of_size(
    make: Callable[[int], RunConfig], target: int, input_shape: Sequence[int]
) -> tuple[RunConfig, int]:
    """The config ``make(h)`` (a dense model with one hidden layer of ``h`` units) whose
    parameter count is closest to ``target``, and that count, measured on the built model.
    The count is linear in ``h``: two models give the slope."""

    def count(h: int) -> int:
        model = make(h).model
        shape = model.input_shape or tuple(input_shape)
        return create_model(dataclasses.replace(model, input_shape=shape)).num_parameters()

    p1, p2 = count(1), count(2)
    h = max(1, round((target - p1) / max(p2 - p1, 1)) + 1)
    return make(h), count(h)
