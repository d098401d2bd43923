"""A run directory built by hand: config, every metrics section, two real figures."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.config import RunConfig
from aelab.rundir import merge_metrics
from aelab.viz.code_activity import code_activity
from aelab.viz.reconstructions import reconstruction_grid
from aelab.viz.save import save_figure

SECTIONS = {
    "run": {"name": "tiny-run", "family": "dense", "regularizer": "l1", "latent_dim": 32,
            "parameters": 50992, "dataset": "fashion-mnist", "epochs": 2},
    "reconstruction": {"loss": 0.29, "bce": 0.2846, "mse": 0.0130, "psnr": 19.5,
                       "psnr_infinite": False, "ssim": 0.71, "n_images": 10000},
    "code": {"mean_l0": 12.5, "dead_units": 3, "dead_fraction": 0.09375, "hoyer": 0.41,
             "mean_activation": [0.1, 0.0, 2.5]},
    "pca": {"latent_dim": 32, "mse": 0.0151, "bce": 0.30, "psnr": None, "psnr_infinite": True,
            "ssim": 0.70, "mse_unclipped": 0.0152, "mse_ratio": 0.0130 / 0.0151},
    "downstream": {"autoencoder": {"logreg_acc": 0.81, "knn_acc": 0.83, "kmeans_nmi": 0.5,
                                   "kmeans_ari": 0.35}},
}  # fmt: skip


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "tiny-run"
    path.mkdir()
    RunConfig(name="tiny-run").save(path / "config.toml")
    for section, values in SECTIONS.items():
        merge_metrics(path, section, values)
    images = np.random.default_rng(0).integers(0, 256, (3, 1, 8, 8), dtype=np.uint8)
    save_figure(
        reconstruction_grid(images, images, title="t"), path / "figures/reconstructions.png"
    )
    codes = np.random.default_rng(0).random((10, 4))
    save_figure(code_activity(codes, title="t"), path / "figures/code_activity.png")
    return path
