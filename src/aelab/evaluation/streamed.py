"""Evaluation of data read in batches (a torch Dataset, IterableDataset or DataLoader).

Nothing is held in memory but the codes (N, latent_dim) and a stated sample:

- the ``reconstruction`` and ``code`` sections are accumulated over every test batch, in one
  pass, with the same per-image scores as data in memory (the same numbers on the same
  images, in the same order);
- the PCA baseline is fitted on the first ``PCA_FIT_SAMPLES`` training samples (the
  training order, shuffled by the seed where the source allows it; ``pca.fit_images`` says
  how many) and scored on every test batch in the same pass;
- the figures and the interactive code map are drawn from the first ``FIGURE_SAMPLES`` test
  samples (their labels where the items are ``(x, y)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aelab.data.stream import LoaderSource, Stream, StreamSplits
from aelab.errors import DataError
from aelab.metrics import baselines, code, reconstruction
from aelab.metrics.baselines import PCA_FIT_SAMPLES
from aelab.models.base import Autoencoder

FIGURE_SAMPLES = 2_000  # test samples kept for the figures and the code map


@dataclass
class StreamedTest:
    """What one pass over a streamed test split gives: the metrics sections, every test
    code, and the first ``FIGURE_SAMPLES`` samples (float32 in [0, 1]) with their labels."""

    sections: dict[str, dict[str, Any]]
    codes: np.ndarray
    images: np.ndarray
    labels: np.ndarray | None
    n_images: int


class ModelScores:
    """The ``reconstruction`` section accumulated batch by batch: the per-image scores of
    ``model``'s reconstructions plus its own loss (in memory and streamed alike)."""

    def __init__(self, model: Autoencoder) -> None:
        self.model = model
        self.scores = reconstruction.ReconstructionScores()
        self.loss_sum = 0.0

    @property
    def n_images(self) -> int:
        return self.scores.n_images

    def update(self, x: torch.Tensor) -> None:
        self.scores.update(self.model.reconstruct(x), x)
        self.loss_sum += float(self.model.loss(x).total) * len(x)

    def result(self) -> dict[str, Any]:
        """``{loss, bce, mse, ..., n_images}`` (the catalog's reconstruction section)."""
        loss = reconstruction.finite_or_none(self.loss_sum / max(self.n_images, 1))
        return {"loss": loss, **self.scores.result()}


def _first_samples(stream: Stream, n: int, *, seed: int, shuffle: bool) -> np.ndarray:
    """Up to ``n`` samples of ``stream`` as float32 (N, C, H, W) in [0, 1], in its order."""
    kept: list[np.ndarray] = []
    count = 0
    for x in LoaderSource(stream, 1024, shuffle=shuffle, seed=seed):
        kept.append(x[: n - count].float().numpy())
        count += len(kept[-1])
        if count >= n:
            break
    return np.concatenate(kept) if kept else np.zeros((0, *stream.shape), np.float32)


@torch.inference_mode()
def evaluate_stream(
    model: Autoencoder,
    data: StreamSplits,
    *,
    batch_size: int = 1024,
    device: str = "cpu",
    seed: int = 0,
) -> StreamedTest:
    """The ``reconstruction``, ``code`` and ``pca`` sections of ``model`` on ``data``'s test
    split, read batch by batch (see the module docstring)."""
    if data.test is None:
        raise DataError(
            f"{data.name}: no test split to evaluate on (a DataLoader or IterableDataset "
            "cannot be split); pass test= with the test data (aelab.train(..., test_data=...))."
        )
    fit = _first_samples(data.train, PCA_FIT_SAMPLES, seed=seed, shuffle=True)
    pca = baselines.PCAScores(baselines.fit_pca(fit, model.config.latent_dim, seed=seed))
    scores = ModelScores(model)
    codes, mus, logvars, kept, kept_labels = [], [], [], [], []
    n_kept = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batches = LoaderSource(data.test, batch_size, shuffle=False, seed=seed, device=device)
        for x, y in batches.pairs():
            scores.update(x)
            codes.append(model.encode(x).float().cpu())
            if model.has_code_distribution:
                mu, logvar = model.encode_distribution(x)
                mus.append(mu.float().cpu())
                logvars.append(logvar.float().cpu())
            pca.update(x.float().cpu())
            if n_kept < FIGURE_SAMPLES:
                part = x[: FIGURE_SAMPLES - n_kept].float().cpu().numpy()
                kept.append(part)
                kept_labels.append(None if y is None else np.asarray(y[: len(part)]))
                n_kept += len(part)
    if not scores.n_images:
        raise DataError(f"{data.name}: the test split yields no samples; nothing to evaluate.")
    recon = scores.result()
    all_codes = torch.cat(codes).numpy()
    stats = code.code_statistics(all_codes)
    if mus:
        stats.update(code.kl_statistics(torch.cat(mus).numpy(), torch.cat(logvars).numpy()))
    pixels = int(np.prod(data.shape))
    pca_section = baselines.with_ratio(
        {**pca.result(), "fit_images": len(fit)}, model.config.latent_dim, pixels, recon["mse"]
    )
    labels = None  # class labels colour the figures: integers only (names, one-hots: none)
    if kept_labels and all(y is not None for y in kept_labels):
        joined = np.concatenate(kept_labels)
        if joined.ndim == 1 and np.issubdtype(joined.dtype, np.integer):
            labels = joined.astype(np.int64)
    return StreamedTest(
        sections={"reconstruction": recon, "code": stats, "pca": pca_section},
        codes=all_codes,
        images=np.concatenate(kept),
        labels=labels,
        n_images=scores.n_images,
    )
