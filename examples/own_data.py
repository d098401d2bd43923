"""Your own data: train an autoencoder on a torch Dataset of 1-D signals (not images) and
use its reconstruction error to find anomalous signals.

The signals are generated here, honestly: each is a sine of random frequency (1-4 cycles),
phase and amplitude over 128 samples, plus Gaussian noise, scaled to [0, 1]. Anomalies are
the same signals with a narrow spike added at a random position. The model is the user's
own pair of modules, a 1-D convolutional encoder and decoder, wrapped into a full aelab
model by ``Autoencoder.from_modules``; it learns the normal signals from a
``torch.utils.data.Dataset`` (streamed in batches, never copied into one array), and the
test signals are scored by their per-signal reconstruction MSE: the script prints the
AUROC of normal vs spiked.

Run: ``python examples/own_data.py [--n 4000] [--epochs 15]``.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.utils.data import Dataset

import aelab  # public names only: aelab.__all__

LENGTH = 128


def sines(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` noisy sines (n, LENGTH) float32 in [0, 1]."""
    t = np.linspace(0.0, 1.0, LENGTH, endpoint=False)
    cycles = rng.uniform(1.0, 4.0, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.0, (n, 1))
    x = amplitude * np.sin(2 * np.pi * cycles * t + phase) + 0.05 * rng.standard_normal((n, LENGTH))
    return np.clip((x + 1.25) / 2.5, 0.0, 1.0).astype(np.float32)


def add_spikes(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A narrow Gaussian bump (height 0.5, width ~2 samples) at a random place in each row."""
    centre = rng.integers(8, LENGTH - 8, (len(x), 1))
    bump = 0.5 * np.exp(-0.5 * ((np.arange(LENGTH) - centre) / 2.0) ** 2)
    return np.clip(x + bump, 0.0, 1.0).astype(np.float32)


def signal_modules(code: int = 8) -> tuple[nn.Module, nn.Module]:
    """A user's own encoder/decoder: Conv1d over the 128 samples. Batches arrive as
    (B, 1, 1, 128) (a flat feature vector is a 1x1xD "image"); the decoder returns logits
    of the same shape."""
    encoder = nn.Sequential(
        nn.Flatten(1, 2),  # (B, 1, 1, 128) -> (B, 1, 128)
        nn.Conv1d(1, 8, 5, stride=2, padding=2),  # -> (B, 8, 64)
        nn.ReLU(),
        nn.Conv1d(8, 16, 5, stride=2, padding=2),  # -> (B, 16, 32)
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 32, code),
    )
    decoder = nn.Sequential(
        nn.Linear(code, 16 * 32),
        nn.ReLU(),
        nn.Unflatten(1, (16, 32)),
        nn.ConvTranspose1d(16, 8, 4, stride=2, padding=1),  # -> (B, 8, 64)
        nn.ReLU(),
        nn.ConvTranspose1d(8, 1, 4, stride=2, padding=1),  # -> (B, 1, 128)
        nn.Unflatten(1, (1, 1)),  # -> (B, 1, 1, 128)
    )
    return encoder, decoder


class SignalDataset(Dataset):
    """A map-style dataset of ``(signal, 0)`` items: signal (LENGTH,) float32 in [0, 1]."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.signals = torch.from_numpy(sines(n, np.random.default_rng(seed)))

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.signals[i], 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="training signals")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)  # the user's modules initialise from the global RNG
    model = aelab.Autoencoder.from_modules(
        *signal_modules(), input_shape=(1, 1, LENGTH), loss="mse"
    )
    config = aelab.RunConfig(
        name="signals",
        data=aelab.DataConfig(validation="split"),
        model=model.config,
        train=aelab.TrainConfig(epochs=args.epochs, batch_size=64, lr=2e-3, seed=args.seed),
    )
    data = SignalDataset(args.n, seed=args.seed)
    with tempfile.TemporaryDirectory() as out:  # the run's files are not needed afterwards
        # 10% of the Dataset is held out by index as the test split, evaluated batch by batch
        result = aelab.train(config, model=model, data=data, out=out, progress=False)
    last = result.history[-1]
    print(
        f"trained {result.model.describe()} on {args.n} signals of {LENGTH} samples "
        f"({result.config.data.dataset}, input_shape {list(result.config.model.input_shape)}): "
        f"train loss {last['train_loss']:.5f}, val loss {last['val_loss']:.5f} after "
        f"{len(result.history)} epochs"
    )
    rec, pca = result.metrics["reconstruction"], result.metrics["pca"]
    print(
        f"test MSE {rec['mse']:.5f} on {rec['n_images']} held-out signals (PCA with "
        f"{pca['latent_dim']} components, fitted on {pca['fit_images']} signals: {pca['mse']:.5f})"
    )

    rng = np.random.default_rng(args.seed + 1)
    normal = sines(500, rng)
    spiked = add_spikes(sines(500, rng), rng)
    model = aelab.TrainedModel(result.model, result.config)
    scores = model.score(np.concatenate([normal, spiked]))
    is_anomaly = np.r_[np.zeros(len(normal), bool), np.ones(len(spiked), bool)]
    print(
        f"reconstruction MSE: normal {scores[~is_anomaly].mean():.5f}, spiked "
        f"{scores[is_anomaly].mean():.5f}; AUROC (spiked = anomaly) {roc_auc_score(is_anomaly, scores):.3f}"
    )


if __name__ == "__main__":
    main()
