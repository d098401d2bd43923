"""Every figure function returns a titled Figure for gray and RGB images; saving is atomic."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from aelab.viz import FIGURES
from aelab.viz.code_activity import code_activity
from aelab.viz.code_map import code_map
from aelab.viz.denoising import denoising_triplets
from aelab.viz.features import feature_tiles
from aelab.viz.generative import interpolation_strip, prior_samples
from aelab.viz.loss_curves import loss_curves, loss_parts
from aelab.viz.reconstructions import pick_examples, reconstruction_grid
from aelab.viz.save import save_figure
from aelab.viz.style import figure_title, to_display
from aelab.viz.top_activating import top_activating

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, (12, 1, 8, 8), dtype=np.uint8)
RGB = RNG.random((12, 3, 8, 8)).astype(np.float32)
CODES = np.abs(RNG.standard_normal((12, 5))).astype(np.float32)
CODES[:, 2] = 0.0  # a dead unit
HISTORY = [
    {"epoch": 1, "train_loss": 0.5, "train_reconstruction": 0.4, "train_sparsity": 0.1,
     "val_loss": 0.6, "val_reconstruction": 0.5, "val_sparsity": 0.1, "seconds": 1.0, "lr": 1e-3},
    {"epoch": 2, "train_loss": 0.4, "train_reconstruction": 0.35, "train_sparsity": 0.05,
     "val_loss": 0.5, "val_reconstruction": 0.45, "val_sparsity": 0.05, "seconds": 1.0, "lr": 1e-3},
]  # fmt: skip


def suptitle(fig: Figure) -> str:
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def figures_for(images: np.ndarray) -> dict[str, Figure]:
    title = figure_title("run-x", "fake", "what")
    return {
        "reconstructions": reconstruction_grid(images[:4], images[:4], title=title),
        "loss_curves": loss_curves(HISTORY, title=title),
        "code_activity": code_activity(CODES, title=title),
        "features": feature_tiles(images[:5].astype(np.float32), title=title),
        "code_map": code_map(RNG.standard_normal((12, 2)), np.arange(12) % 3, title=title,
                             class_names=("a", "b", "c")),
        "denoising": denoising_triplets(images[:3], images[:3], images[:3], title=title),
        "vae_samples": prior_samples(images[:6], title=title),
        "vae_interpolation": interpolation_strip(np.stack([images[:5], images[5:10]]), title=title),
        "top_activating": top_activating(images, CODES, title=title, k=3),
    }  # fmt: skip


@pytest.mark.parametrize("images", [GRAY, RGB], ids=["gray", "rgb"])
def test_every_figure_is_titled_and_draws(images, tmp_path):
    for name, fig in figures_for(images).items():
        assert isinstance(fig, Figure), name
        assert suptitle(fig) == "run-x · fake · what", name
        assert name in FIGURES
        path = save_figure(fig, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_reconstruction_grid_takes_many_named_rows():
    fig = reconstruction_grid(GRAY[:3], {"dense": GRAY[:3], "conv": RGB[:3]}, title="t")
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["original", "dense", "conv"]


def test_pick_examples_first_image_of_each_class():
    labels = np.array([3, 1, 1, 0, 3, 2, 0])
    assert pick_examples(labels, 10).tolist() == [3, 1, 5, 0]
    assert pick_examples(labels, 2).tolist() == [3, 1]
    assert pick_examples(None, 4, total=10).tolist() == [0, 1, 2, 3]
    assert pick_examples(None, 4, total=2).tolist() == [0, 1]
    with pytest.raises(ValueError):
        pick_examples(None, 4)


def test_loss_parts_and_gaps():
    assert loss_parts(HISTORY) == ["loss", "reconstruction", "sparsity"]
    fig = loss_curves([{"epoch": 1, "train_loss": 1.0, "val_loss": ""}], title="t")
    assert [ax.get_title() for ax in fig.axes] == ["loss"]


def test_code_map_without_labels():
    fig = code_map(RNG.standard_normal((5, 2)), None, title="t")
    assert fig.axes[0].get_legend() is None


def test_to_display_shapes():
    assert to_display(GRAY[0]).shape == (8, 8)
    assert to_display(RGB[0]).shape == (8, 8, 3)
    assert to_display(GRAY[0]).max() <= 1.0


def test_save_figure_replaces_atomically(tmp_path):
    path = tmp_path / "sub" / "fig.png"
    save_figure(code_activity(CODES, title="a"), path)
    first = path.read_bytes()
    save_figure(code_activity(CODES * 2, title="b"), path)
    assert path.read_bytes() != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["fig.png"]


def _drawn(fig: Figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize("epochs", [1, 2, 3, 7, 40])
def test_loss_curve_epoch_ticks_are_whole_epochs(epochs):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e} for e in range(1, epochs + 1)]
    fig = loss_curves(history, title="t")
    _drawn(fig)
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    visible = [t for t in ax.get_xticks() if low <= t <= high]
    assert visible, "the epoch axis has no tick"
    assert all(float(t).is_integer() for t in visible), visible


@pytest.mark.parametrize(
    "labels", [["original", "reconstruction"], ["unit 31 (mean 0.123)", "unit 2"]]
)
def test_grid_row_labels_keep_a_margin_from_the_edge(labels):
    from aelab.viz.grid import image_rows

    fig = image_rows([GRAY[:6], GRAY[:3]], title="t", row_labels=labels)
    renderer = _drawn(fig)
    margin = 0.05 * fig.dpi  # at least 0.05 in of white beside every label
    for ax in fig.axes:
        box = ax.yaxis.label.get_window_extent(renderer)
        assert box.x0 >= fig.bbox.x0 + margin, (ax.yaxis.label.get_text(), box.x0)
        assert box.x1 <= fig.bbox.x1 - margin
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1
