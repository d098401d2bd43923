# %% [markdown]
# # aelab in a notebook: your own modules, trained, inspected, probed and exported
#
# Open this file in Jupyter or VS Code (the `# %%` markers are cells) or run it as a script:
#
#     python examples/notebook.py                                    # Fashion-MNIST, 5 epochs
#     python examples/notebook.py --dataset idx:DIR --val-size 16 --epochs 1 --out /tmp/nb
#
# It writes everything under `--out` (default `runs/notebook`): the run directory, the two
# figures and the ONNX encoder.

# %%
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script needs no display; in Jupyter the figures show inline anyway
import matplotlib.pyplot as plt
import torch
from torch import nn

import aelab  # public names only: aelab.__all__

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--dataset", default="fashion-mnist", help="any aelab dataset name")
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--val-size", type=int, default=5000, help="training images held out")
parser.add_argument("--out", type=Path, default=Path("runs/notebook"))
args, _ = parser.parse_known_args()  # Jupyter passes its own arguments
args.out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Data: uint8 splits in memory

# %%
data = aelab.load_dataset(
    aelab.DataConfig(dataset=args.dataset, validation="split", val_size=args.val_size), seed=0
)
C, H, W = data.shape
print(
    f"{data.name}: {len(data.train)} train, {len(data.val)} val, {len(data.test)} test, {C}x{H}x{W}"
)

# %% [markdown]
# ## Your own encoder and decoder, as an aelab model
# The decoder returns logits (no final sigmoid); the code size is inferred. Top-k
# sparsity keeps the 8 largest of the 32 code units per image.

# %%
torch.manual_seed(0)
h, w = H // 2, W // 2  # even image sizes: the strided conv halves them, the decoder doubles
encoder = nn.Sequential(
    nn.Conv2d(C, 16, 3, stride=2, padding=1), nn.ReLU(),
    nn.Flatten(), nn.Linear(16 * h * w, 32),
)  # fmt: skip
decoder = nn.Sequential(
    nn.Linear(32, 16 * h * w), nn.ReLU(),
    nn.Unflatten(1, (16, h, w)),
    nn.ConvTranspose2d(16, C, 4, stride=2, padding=1),
)  # fmt: skip
model = aelab.Autoencoder.from_modules(
    encoder, decoder, input_shape=(C, H, W), sparsity={"kind": "topk", "k": 8}
)
print(model.describe())

# %% [markdown]
# ## Train (a progress bar in Jupyter), then evaluate on the test split

# %%
run = aelab.train(
    model=model, data=data, out=args.out / "run", epochs=args.epochs, batch_size=64,
    overwrite=True,
)  # fmt: skip
print(run)  # in Jupyter, a bare `run` shows it as a table

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for column in ("train_loss", "val_loss"):
    ax.plot(run.history["epoch"], run.history[column], marker="o", label=column)
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
fig.savefig(args.out / "history.png", dpi=100, bbox_inches="tight")

# %%
trained = aelab.TrainedModel(run.model, run.config)
images = data.test.images[:8]
pixels = trained.reconstruct(images)
grid, axes = plt.subplots(2, len(images), figsize=(len(images), 2.2))
for i, (original, rebuilt) in enumerate(zip(images, pixels, strict=True)):
    axes[0, i].imshow(original.transpose(1, 2, 0).squeeze(), cmap="gray")
    axes[1, i].imshow(rebuilt.transpose(1, 2, 0).squeeze(), cmap="gray", vmin=0, vmax=1)
for ax in axes.flat:
    ax.axis("off")
grid.suptitle("test images / reconstructions")
grid.savefig(args.out / "reconstructions.png", dpi=100, bbox_inches="tight")
print(f"test MSE {run.metrics['reconstruction']['mse']:.4f} "
      f"(PCA with {run.model.latent_dim} components: {run.metrics['pca']['mse']:.4f})")  # fmt: skip

# %% [markdown]
# ## Are the codes useful? Linear, k-NN and k-means probes against PCA and raw pixels

# %%
probes = trained.probe(data, train_limit=2000)  # representation -> probe -> score
for representation, scores in probes.items():
    print(f"{representation:<12}" + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))

# %% [markdown]
# ## Export the encoder to ONNX (dynamic batch axis)

# %%
path = trained.export(args.out / "encoder.onnx", part="encoder")  # or aelab.export(run_dir, ...)
print(f"ONNX encoder: {path} ({path.stat().st_size:,} bytes)")
