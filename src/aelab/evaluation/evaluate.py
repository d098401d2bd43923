"""Evaluate a trained run: test metrics, the PCA baseline, every figure, the report.

``evaluate_run(run_dir)`` loads the run's model and data, merges the ``reconstruction``,
``code`` and ``pca`` sections into ``metrics.json``, writes ``figures/*.png`` and renders
``report.html``. Data that is not images (feature vectors, shape (1, 1, D)) gets no SSIM
and none of the ``IMAGE_FIGURES``, with a note. The pieces are reusable one by one: :func:`reconstruction_metrics` and the
figure builders in ``FIGURE_BUILDERS`` work on any model, so comparisons draw the same
figures for many runs (the model-to-numpy helpers live in :mod:`aelab.models.apply`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from aelab.config import RunConfig
from aelab.data import load_dataset
from aelab.data.splits import DatasetSplits, is_image
from aelab.data.stream import StreamSplits
from aelab.errors import DataError, check_choice
from aelab.evaluation.code_map import PROJECTIONS, build_code_map
from aelab.evaluation.streamed import ModelScores, evaluate_stream
from aelab.layers.noise import CORRUPTIONS
from aelab.metrics import baselines, code
from aelab.models.apply import (
    decode_codes,
    encode_distributions,
    encode_images,
    image_batches,
    reconstruct_images,
)
from aelab.models.base import Autoencoder
from aelab.report import render_report
from aelab.report.interactive import write_code_map
from aelab.report.render import run_name
from aelab.report.tables import format_number
from aelab.rundir import merge_metrics, read_history, read_metrics, run_lock
from aelab.training import load_run
from aelab.training.device import compute_threads, resolve_device
from aelab.training.trackers import log_finished_run
from aelab.viz import (
    FIGURE_SETS,
    code_activity,
    code_map,
    denoising,
    features,
    generative,
    loss_curves,
)
from aelab.viz import top_activating as top_activating_fig
from aelab.viz.reconstructions import pick_examples, reconstruction_grid
from aelab.viz.save import save_figure
from aelab.viz.style import figure_title

N_EXAMPLES = 10  # images in the reconstruction, denoising and VAE figures
N_SAMPLES = 32  # prior samples
N_INTERPOLATIONS = 4  # interpolation strips ...
INTERPOLATION_STEPS = 9  # ... of this many frames
TOP_K = 8  # top-activating images per unit
FEATURE_QUANTILE = 0.99  # each unit is decoded at this quantile of its |activation|


# --------------------------------------------------------------------------- model helpers


@torch.inference_mode()
def reconstruction_metrics(
    model: Autoencoder,
    images: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Scores of ``model`` on ``images`` (N, C, H, W) uint8, plus its own loss.

    Returns ``{loss, bce, mse, psnr, psnr_infinite, ssim, n_images}`` (defined in
    ``aelab.metrics.catalog``). The model must be in eval mode
    (``load_run`` returns it so).
    """
    scores = ModelScores(model)
    for x in image_batches(images, batch_size, device):
        scores.update(x)
    return scores.result()


def unit_features(model: Autoencoder, codes: np.ndarray, *, device: str = "cpu") -> np.ndarray:
    """Each unit decoded alone: ``decode(s_j e_j)`` with ``s_j`` the unit's
    ``FEATURE_QUANTILE`` |activation| on ``codes`` (1 for a dead unit) -> (latent, C, H, W)."""
    scale = np.quantile(np.abs(codes), FEATURE_QUANTILE, axis=0)
    scale = np.where(scale > code.ACTIVE_THRESHOLD, scale, 1.0)
    return decode_codes(model, np.diag(scale).astype(np.float32), device=device)


def decoder_weight_tiles(model: Autoencoder) -> np.ndarray | None:
    """The decoder weights of each unit as images (latent, C, H, W) when one linear layer
    maps the code straight to the pixels (single-layer dense decoders), else None."""
    shape = tuple(model.config.input_shape)
    linears = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
    if len(linears) != 1:
        return None
    layer = linears[0]
    if layer.in_features != model.config.latent_dim or layer.out_features != int(np.prod(shape)):
        return None
    weight = layer.weight.detach().float().cpu().numpy().T  # (latent, pixels)
    return weight.reshape(len(weight), *shape)


# --------------------------------------------------------------------------- figures


@dataclass
class FigureInputs:
    """What the figure builders read. ``images``/``labels`` are the test split."""

    model: Autoencoder
    config: RunConfig
    run_name: str
    dataset: str
    images: np.ndarray
    labels: np.ndarray | None
    codes: np.ndarray
    class_names: tuple[str, ...] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    tsne: bool = False
    device: str = "cpu"
    seed: int = 0
    n_test: int | None = None  # test samples in all, when ``images`` are the first of them

    def title(self, metric: str) -> str:
        return figure_title(self.run_name, self.dataset, metric)

    def sampled(self, metric: str) -> str:
        """``metric``'s title, saying so when the figure shows a sample of the test split."""
        if self.n_test is None or self.n_test <= len(self.images):
            return self.title(metric)
        return self.title(f"{metric} (first {len(self.images):,} of {self.n_test:,})")

    def examples(self) -> np.ndarray:
        return pick_examples(self.labels, N_EXAMPLES, total=len(self.images))

    def example_names(self) -> list[str] | None:
        if self.labels is None:
            return None
        picked = self.labels[self.examples()]
        if self.class_names is None:
            return [str(v) for v in picked]
        return [
            self.class_names[int(v)] if int(v) < len(self.class_names) else str(v) for v in picked
        ]


def fig_reconstructions(inp: FigureInputs) -> Figure:
    originals = inp.images[inp.examples()]
    mse = inp.metrics.get("reconstruction", {}).get("mse")
    metric = "test reconstructions" + (f" (MSE {mse:.4f})" if mse is not None else "")
    return reconstruction_grid(
        originals,
        reconstruct_images(inp.model, originals, device=inp.device),
        title=inp.title(metric),
        column_labels=inp.example_names(),
    )


def fig_loss_curves(inp: FigureInputs) -> Figure | None:
    if not inp.history:
        return None
    loss = inp.config.model.loss.upper()
    return loss_curves.loss_curves(inp.history, title=inp.title(f"loss per epoch ({loss})"))


def fig_code_activity(inp: FigureInputs) -> Figure:
    return code_activity.code_activity(
        inp.codes, title=inp.sampled("code activations (test)"), threshold=code.ACTIVE_THRESHOLD
    )


def fig_features(inp: FigureInputs) -> Figure:
    tiles = unit_features(inp.model, inp.codes, device=inp.device)
    return features.feature_tiles(tiles, title=inp.title("decoded unit vectors"))


def fig_decoder_weights(inp: FigureInputs) -> Figure | None:
    tiles = decoder_weight_tiles(inp.model)
    if tiles is None:
        return None
    return features.feature_tiles(tiles, title=inp.title("decoder weights per unit"))


def fig_code_map(inp: FigureInputs) -> Figure:
    points = code.project_2d(inp.codes, method="pca", seed=inp.seed)
    return code_map.code_map(
        points, inp.labels, title=inp.sampled("test codes, PCA"), class_names=inp.class_names
    )


def fig_code_map_tsne(inp: FigureInputs) -> Figure | None:
    if not inp.tsne:
        return None
    points = code.project_2d(inp.codes, method="tsne", seed=inp.seed)
    return code_map.code_map(
        points,
        inp.labels,
        title=inp.title(f"test codes, t-SNE (first {len(points)})"),
        class_names=inp.class_names,
        axis_name="t-SNE",
    )


def fig_denoising(inp: FigureInputs) -> Figure | None:
    noise = inp.config.model.noise
    if noise.kind == "none":
        return None
    examples = inp.images[inp.examples()]
    clean = next(image_batches(examples, len(examples)))
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(inp.seed)
    noisy = CORRUPTIONS[noise.kind](clean.clone(), noise.level)
    torch.random.set_rng_state(generator_state)
    denoised = reconstruct_images(inp.model, noisy.numpy(), device=inp.device)
    return denoising.denoising_triplets(
        noisy.numpy(),
        clean.numpy(),
        denoised,
        title=inp.title(f"denoising ({noise.kind} {noise.level:g})"),
    )


@torch.inference_mode()
def fig_vae_samples(inp: FigureInputs) -> Figure | None:
    if not inp.model.is_generative:
        return None
    torch.manual_seed(inp.seed)
    samples = inp.model.sample(N_SAMPLES).float().cpu().numpy()
    return generative.prior_samples(samples, title=inp.title("samples from the prior"))


@torch.inference_mode()
def fig_vae_interpolation(inp: FigureInputs) -> Figure | None:
    if not inp.model.is_generative:
        return None
    idx = inp.examples()
    pairs = [(idx[i], idx[(i + 1) % len(idx)]) for i in range(min(N_INTERPOLATIONS, len(idx)))]
    strips = []
    for a, b in pairs:
        (pair,) = image_batches(inp.images[[a, b]], 2, inp.device)
        frames = inp.model.interpolate(pair[0], pair[1], INTERPOLATION_STEPS).float().cpu().numpy()
        strips.append(frames.reshape(INTERPOLATION_STEPS, *frames.shape[-3:]))
    return generative.interpolation_strip(
        np.stack(strips), title=inp.title("interpolation between test images")
    )


def fig_top_activating(inp: FigureInputs) -> Figure | None:
    if inp.config.model.sparsity.kind == "none":
        return None
    return top_activating_fig.top_activating(
        inp.images, inp.codes, title=inp.sampled("top-activating test images per unit"), k=TOP_K
    )


# stem under figures/ -> builder (None when the figure does not apply to this run);
# the stems and captions are listed in aelab.viz.FIGURES.
FIGURE_BUILDERS: dict[str, Callable[[FigureInputs], Figure | None]] = {
    "reconstructions": fig_reconstructions,
    "loss_curves": fig_loss_curves,
    "code_activity": fig_code_activity,
    "features": fig_features,
    "decoder_weights": fig_decoder_weights,
    "code_map": fig_code_map,
    "code_map_tsne": fig_code_map_tsne,
    "denoising": fig_denoising,
    "vae_samples": fig_vae_samples,
    "vae_interpolation": fig_vae_interpolation,
    "top_activating": fig_top_activating,
}


# figures that draw samples as images: skipped for feature vectors
IMAGE_FIGURES = frozenset(
    {
        "reconstructions",
        "features",
        "decoder_weights",
        "denoising",
        "vae_samples",
        "vae_interpolation",
        "top_activating",
    }
)


def write_figures(
    inputs: FigureInputs,
    out_dir: str | Path,
    *,
    figures: str = "all",
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Build every figure of the set ``figures`` (``aelab.viz.FIGURE_SETS``) that applies and
    save it as ``out_dir/<stem>.png``. ``log`` hears of the slow ones before they start."""
    check_choice("figures", figures, tuple(FIGURE_SETS))
    written = []
    images = is_image(tuple(inputs.model.config.input_shape))
    for stem, build in FIGURE_BUILDERS.items():
        if stem not in FIGURE_SETS[figures] or (stem in IMAGE_FIGURES and not images):
            continue
        if stem == "code_map_tsne" and inputs.tsne and log is not None:
            log(f"t-SNE map of {min(len(inputs.codes), code.TSNE_MAX_POINTS):,} test codes ...")
        fig = build(inputs)
        if fig is not None:
            written.append(save_figure(fig, Path(out_dir) / f"{stem}.png"))
    return written


def write_map_data(
    inputs: FigureInputs,
    run_dir: str | Path,
    projection: str = "pca",
    *,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Store what the interactive code map needs under ``run_dir/figures/code_map/``
    (2-D points, codes, per-image errors, labels and the thumbnail sprite sheets; the
    report and ``aelab explore`` read them); returns the files written."""
    if log is not None and projection != "pca":
        log(f"{projection} map of {len(inputs.codes):,} test codes ...")
    data = build_code_map(
        inputs.model,
        inputs.images,
        inputs.labels,
        inputs.codes,
        class_names=inputs.class_names,
        projection=projection,
        thumbnails=is_image(tuple(inputs.model.config.input_shape)),
        batch_size=inputs.config.train.eval_batch_size,
        device=inputs.device,
        seed=inputs.seed,
    )
    folder = write_code_map(run_dir, data)
    return sorted(folder.iterdir())


# --------------------------------------------------------------------------- the run


def _check_shape(data: DatasetSplits | StreamSplits, model: Autoencoder, run_dir: Path) -> None:
    expected = tuple(model.config.input_shape)
    found = tuple(data.shape)
    if found != expected:
        raise DataError(
            f"{run_dir}: the model expects images of shape {list(expected)} but the test data "
            f"has {list(found)}; evaluate on the dataset the run was trained on."
        )
    if isinstance(data, DatasetSplits) and len(data.test) == 0:
        raise DataError(f"{run_dir}: the test split is empty; nothing to evaluate.")


def compute_metrics(
    model: Autoencoder,
    data: DatasetSplits,
    *,
    batch_size: int = 1024,
    device: str = "cpu",
    seed: int = 0,
    cache: bool = True,
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """The ``reconstruction``, ``code`` and ``pca`` sections for ``model`` on ``data``'s test
    split (PCA fitted on its train split, its scores from the user's baseline cache unless
    ``cache`` is False), and the test codes (N, latent_dim)."""
    images = data.test.images
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        recon = reconstruction_metrics(model, images, batch_size=batch_size, device=device)
        codes = encode_images(model, images, batch_size=batch_size, device=device)
        stats = code.code_statistics(codes)
        if model.has_code_distribution:
            mu, logvar = encode_distributions(model, images, batch_size=batch_size, device=device)
            stats.update(code.kl_statistics(mu, logvar))
    latent_dim = model.config.latent_dim
    scores = baselines.cached_pca_scores(
        data.name, data.train.images, images, latent_dim, seed=seed, cache=cache
    )
    pixels = int(np.prod(images.shape[1:]))
    pca = baselines.with_ratio(
        {**scores, "fit_images": len(data.train)}, latent_dim, pixels, recon["mse"]
    )
    return {"reconstruction": recon, "code": stats, "pca": pca}, codes


def evaluate_run(
    run_dir: str | Path,
    *,
    data: DatasetSplits | StreamSplits | None = None,
    tsne: bool = False,
    device: str = "cpu",
    quiet: bool = False,
    checkpoint: str = "best",
    figures: str | None = None,
    model: Autoencoder | None = None,
    map_projection: str = "pca",
) -> dict[str, Any]:
    """Evaluate the run in ``run_dir`` on its test split; write metrics, figures and report.

    ``data``: the splits to evaluate on (default: the run's dataset); streamed splits
    (:class:`~aelab.data.stream.StreamSplits`, from a torch Dataset or DataLoader) are read
    batch by batch, see :mod:`aelab.evaluation.streamed`.

    ``figures``: which figures to draw (``aelab.viz.FIGURE_SETS``: all, basic, none); None
    takes the run's ``train.figures``. ``model``: the model to load the checkpoint into
    (needed for a run of your own modules, see :func:`aelab.training.load_run`).
    ``map_projection``: the 2-D projection of the interactive code map (pca, umap with the
    ``aelab[umap]`` extra, tsne), stored under ``figures/code_map/`` with the figure set
    "all" (:func:`write_map_data`). Returns
    ``{"reconstruction", "code", "pca"}`` (as merged into metrics.json, JSON-safe) plus
    ``"figures"`` (written paths) and ``"report"``. Holds the run's lock throughout: a run
    being trained is refused (its weights are moving).
    """
    with run_lock(run_dir, "evaluating"):
        check_choice("map_projection", map_projection, PROJECTIONS)
        return _evaluate_run(
            run_dir, data, tsne, device, quiet, checkpoint, figures, model, map_projection
        )


def _evaluate_run(
    run_dir: str | Path,
    data: DatasetSplits | StreamSplits | None,
    tsne: bool,
    device: str,
    quiet: bool,
    checkpoint: str,
    figures: str | None,
    model: Autoencoder | None,
    map_projection: str = "pca",
) -> dict[str, Any]:
    run_dir = Path(run_dir)
    device = str(resolve_device(device))
    log = (lambda msg: None) if quiet else (lambda msg: print(f"evaluate: {msg}", flush=True))
    start = time.perf_counter()
    model, config = load_run(run_dir, checkpoint=checkpoint, device=device, model=model)
    if data is None:
        data = load_dataset(config.data, seed=config.train.seed, progress=not quiet)
    if not isinstance(data, (DatasetSplits, StreamSplits)):
        raise DataError(
            f"{run_dir}: cannot evaluate on {type(data).__name__}; pass DatasetSplits or "
            "StreamSplits (aelab.data.as_splits(...) builds either)."
        )
    _check_shape(data, model, run_dir)
    if isinstance(data, DatasetSplits):
        log(f"{len(data.test)} test images, PCA fitted on {len(data.train)} training images")
    if not data.is_image:
        log(f"samples of shape {list(data.shape)} are not images: no SSIM, no image figures")
    with compute_threads(config.train.threads):
        if isinstance(data, StreamSplits):
            streamed = evaluate_stream(
                model,
                data,
                batch_size=config.train.eval_batch_size,
                device=device,
                seed=config.train.seed,
            )
            sections, codes = streamed.sections, streamed.codes[: len(streamed.images)]
            images, labels, n_test = streamed.images, streamed.labels, streamed.n_images
            log(
                f"{streamed.n_images} test samples read in batches; PCA fitted on the first "
                f"{sections['pca']['fit_images']} training samples; figures from the first "
                f"{len(images)} test samples"
            )
        else:
            sections, codes = compute_metrics(
                model,
                data,
                batch_size=config.train.eval_batch_size,
                device=device,
                seed=config.train.seed,
            )
            images, labels, n_test = data.test.images, data.test.labels, None
        for name, values in sections.items():
            merge_metrics(run_dir, name, values)
        inputs = FigureInputs(
            model=model,
            config=config,
            run_name=run_name(run_dir, read_metrics(run_dir), config.to_dict()),
            dataset=data.name,
            images=images,
            labels=labels,
            codes=codes,
            class_names=data.classes,
            history=read_history(run_dir),
            metrics=sections,
            tsne=tsne,
            device=device,
            seed=config.train.seed,
            n_test=n_test,
        )
        figure_set = figures or config.train.figures
        written = write_figures(inputs, run_dir / "figures", figures=figure_set, log=log)
        if "code_map" in FIGURE_SETS[figure_set]:
            write_map_data(inputs, run_dir, map_projection, log=log)
    report = render_report(run_dir)
    rec, pca = sections["reconstruction"], sections["pca"]
    log(
        f"test loss {format_number(rec['loss'])}, BCE {rec['bce']:.4f}, MSE {rec['mse']:.4f} "
        f"(PCA-{pca['latent_dim']}: {pca['mse']:.4f}), SSIM {format_number(rec['ssim'])}; "
        f"{len(written)} figures in {time.perf_counter() - start:.1f} s"
    )
    log(f"report: {report}")
    if config.train.track:
        log_finished_run(run_dir, config.train.track)
    return {**sections, "figures": [str(p) for p in written], "report": str(report)}
