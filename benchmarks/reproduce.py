"""Reproduce the reference systems and settle their claims with numbers: writes
``docs/results.md`` and ``docs/figures/*.png``.

    python benchmarks/reproduce.py --quick      # 1 epoch on a subset: checks the pipeline
    python benchmarks/reproduce.py              # the references' epochs: the real numbers

Everything goes through aelab's own APIs (``aelab.studies.sweep.run_configs`` / ``run_sweep``,
``aelab.studies.family_study``, ``aelab.studies.compare``, ``aelab.reuse.probe``, ``aelab.training.load_run``):
no side code paths. Runs live under ``--out``; a finished run is never retrained, so an
interrupted reproduction is resumed by running the same command again. Every number on the
page is computed in the invocation that writes it (reference figures quoted from
REFERENCE-SYSTEMS.md are labelled as such).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import io
import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from aelab import __version__
from aelab.config import DataConfig, RunConfig
from aelab.errors import AelabError
from aelab.metrics.code import ACTIVE_THRESHOLD
from aelab.presets import list_presets, load_preset
from aelab.rundir import atomic_write_text, git_commit, machine, read_metrics
from aelab.studies.compare import compare_runs, format_value, markdown_table, summarize_run
from aelab.studies.family_study import run_family_study
from aelab.studies.sweep import Vary, run_configs, run_sweep

DATASETS = ("fashion-mnist", "mnist", "cifar10")
KERAS_R1 = {"bce": 0.2846, "mse": 0.0130}  # REFERENCE-SYSTEMS.md, R1 (reference, not measured here)
BEST_TARGET_MSE = 0.0065  # issue 7's target for the best model at code 32
FIGURE_LIMIT = 300 * 1024  # bytes per published figure


# --------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class Profile:
    """How much work a mode does. ``None`` epochs = each preset's own."""

    name: str
    preset_epochs: int | None
    study_epochs: int
    sweep_epochs: int
    claim_epochs: int
    best_epochs: int
    code_sizes: tuple[str, ...]
    sparsity: dict[str, tuple[str, tuple[str, ...]]]  # kind -> (key, values)
    noise_levels: tuple[str, ...]
    best_candidates: tuple[str, ...]
    train_limit: int = 0
    test_limit: int = 0
    val_size: int | None = None
    probe_train_limit: int = 10000
    max_epochs: int | None = None  # --max-epochs: caps every run's epochs (R1, best excepted)
    cap_presets: bool = True  # False (--full-presets): section 1 keeps the presets' epochs


def capped(profile: Profile, max_epochs: int) -> Profile:
    """``profile`` with every epoch count capped at ``max_epochs`` (the presets' own epochs
    are capped per preset in section 1, where R1 keeps its full epochs). The best-model search
    keeps its epochs: its target is defined "within 50 epochs"."""
    return dataclasses.replace(
        profile,
        max_epochs=max_epochs,
        preset_epochs=None
        if profile.preset_epochs is None
        else min(profile.preset_epochs, max_epochs),
        study_epochs=min(profile.study_epochs, max_epochs),
        sweep_epochs=min(profile.sweep_epochs, max_epochs),
        claim_epochs=min(profile.claim_epochs, max_epochs),
    )


def cap_exempt(preset: str) -> bool:
    """R1 keeps its full epochs under --max-epochs: its comparison with the Keras figures
    (measured at 50 epochs) means nothing at fewer, and it is cheap (~30 s for 50 epochs)."""
    return preset.startswith("r1-")


def cap_note(profile: Profile) -> str | None:
    """The sentence every section carries when epochs are capped."""
    if profile.max_epochs is None:
        return None
    return (
        f"> **Epochs capped at {profile.max_epochs}** (`--max-epochs {profile.max_epochs}`): "
        "the runs in this section did NOT train for the references' full epochs (R1 excepted: "
        "it keeps its full epochs so that it can be compared with Keras): the other numbers "
        "are short-training results, not reproductions of the references' results.\n"
    )


FULL = Profile(
    name="full",
    preset_epochs=None,
    study_epochs=20,
    sweep_epochs=10,
    claim_epochs=10,
    best_epochs=50,
    code_sizes=("2", "4", "8", "16", "32", "64", "128"),
    sparsity={
        "l1": ("model.sparsity.weight", ("1e-6", "1e-5", "1e-4", "1e-3")),
        "kl": ("model.sparsity.weight", ("1e-4", "1e-3", "1e-2", "1e-1")),
        "topk": ("model.sparsity.k", ("2", "4", "8", "16")),
    },
    noise_levels=("0.1", "0.3", "0.5", "0.7"),
    best_candidates=(
        "conv-stride",
        "conv-stride-b64",
        "conv-stride-b64-wide",
        "conv-stride-b64-wider",
    ),
)
QUICK = Profile(
    name="quick",
    preset_epochs=1,
    study_epochs=1,
    sweep_epochs=1,
    claim_epochs=1,
    best_epochs=1,
    code_sizes=("4", "32"),
    sparsity={
        "l1": ("model.sparsity.weight", ("1e-5", "1e-3")),
        "kl": ("model.sparsity.weight", ("1e-2",)),
        "topk": ("model.sparsity.k", ("8",)),
    },
    noise_levels=("0.3",),
    best_candidates=("conv-stride",),
    train_limit=2000,
    test_limit=500,
    val_size=500,
    probe_train_limit=2000,
)
# Candidates of the best-model search at code size 32 (overrides of r3-<ds>-conv): strided
# convs and transposed convs (5x cheaper on a CPU than R3's pool + upsample-conv), a linear
# code, the MSE objective and a cosine schedule.
BEST_COMMON = (
    "model.downsample=stride",
    "model.upsample=transpose",
    "model.code_activation=identity",
    "model.loss=mse",
    "train.schedule=cosine",
)
BEST_CANDIDATES: dict[str, tuple[str, ...]] = {
    "conv-stride": BEST_COMMON,
    # batch 64: 4x the optimiser steps per epoch for ~10% more time per epoch on a CPU
    "conv-stride-b64": (*BEST_COMMON, "train.batch_size=64"),
    # and 1.5x the feature maps (~2.2x the compute): at batch 64 the 32-64 model's
    # validation loss flattens by epoch 30, short of capacity rather than of steps
    "conv-stride-b64-wide": (*BEST_COMMON, "train.batch_size=64", "model.channels=[48,96]"),
    # 2x the maps (~3.8x the compute; two threads: on a quiet 2-core box they are ~1.5x one)
    "conv-stride-b64-wider": (
        *BEST_COMMON,
        "train.batch_size=64",
        "model.channels=[64,128]",
        "train.threads=2",
    ),
}
# The page's sections, in order; ``--sections`` runs a subset (claims need the first three).
TITLES = {
    "presets": "## 1. Reproductions of the reference presets",
    "family": "## 2. Family study (code size 32, one protocol)",
    "sweeps": "## 3. Sweeps",
    "claims": "## 4. The claims",
    "best": "## 5. Best model at code size 32",
}
CLAIM_INPUTS = ("presets", "family", "sweeps")
SPARSITY_STUDY = ("vanilla", "sparse-l1", "sparse-kl", "sparse-topk")
IDENTITY_CODE = 1024
DS = "fashion"  # the R3 presets used: r3-fashion-*


@dataclass
class Context:
    """Where things go and how configs are adapted to this invocation."""

    profile: Profile
    out: Path
    docs: Path
    data_dir: str | None
    substitutes: dict[str, str]
    presets: tuple[str, ...] = ("*",)  # fnmatch patterns of the presets to reproduce
    members: tuple[str, ...] | None = None  # family-study members (None = all)
    sections: tuple[str, ...] = tuple(TITLES)  # the sections this invocation runs
    available: dict[str, str] = field(default_factory=dict)  # dataset -> description
    missing: dict[str, str] = field(default_factory=dict)  # dataset -> why
    failures: dict[str, str] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    readme: Path | None = None  # the README whose results block this invocation rewrites
    highlights: list[str] = field(default_factory=list)  # the page's lines for the README
    quiet: bool = True
    log: Callable[[str], None] = print

    def data_sets(self, dataset: str) -> list[str]:
        """Overrides that point a config of ``dataset`` at its files and apply the limits."""
        p = self.profile
        sets = []
        if dataset in self.substitutes:
            sets.append(f"data.dataset={self.substitutes[dataset]}")
        elif self.data_dir:
            sets.append(f"data.data_dir={self.data_dir}")
        if p.train_limit:
            sets.append(f"data.train_limit={p.train_limit}")
        if p.test_limit:
            sets.append(f"data.test_limit={p.test_limit}")
        if p.val_size is not None:
            sets.append(f"data.val_size={p.val_size}")
        return sets

    def config(self, preset: str, *overrides: str, epochs: int | None = None) -> RunConfig:
        cfg = load_preset(preset)
        sets = self.data_sets(cfg.data.dataset) + list(overrides)
        if epochs is not None:
            sets.append(f"train.epochs={epochs}")
        return cfg.override(sets)

    def publish(self, source: Path, name: str) -> str | None:
        """Copy a figure into docs/figures (shrunk to fit FIGURE_LIMIT); its page link."""
        if not source.exists():
            return None
        target = self.docs / "figures" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shrink_png(source, target)
        self.figures.append(name)
        return f"figures/{name}"

    def save(self, fig: Any, name: str) -> str:
        from aelab.viz.save import save_figure

        path = save_figure(fig, self.out / "figures" / name)
        return self.publish(path, name) or ""


def shrink_png(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``; above FIGURE_LIMIT, re-encode with a palette and scale
    down until it fits."""
    from PIL import Image

    data = source.read_bytes()
    if len(data) <= FIGURE_LIMIT:
        target.write_bytes(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = 1.0
    while True:
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        small = image.resize(size, Image.LANCZOS) if scale < 1 else image
        buf = io.BytesIO()
        small.quantize(colors=128).save(buf, format="PNG", optimize=True)
        if buf.tell() <= FIGURE_LIMIT or scale < 0.2:
            target.write_bytes(buf.getvalue())
            return
        scale *= 0.8


# --------------------------------------------------------------------------- helpers


def check_datasets(ctx: Context) -> None:
    """Which datasets load here (with the invocation's data options)."""
    from aelab.data import load_dataset

    for name in DATASETS:
        spec = ctx.substitutes.get(name, name)
        cfg = DataConfig(
            dataset=spec,
            data_dir=None if name in ctx.substitutes else ctx.data_dir,
            validation="none",
        )
        try:
            data = load_dataset(cfg, download=False, progress=False)
        except AelabError as exc:
            ctx.missing[name] = str(exc).split(". ")[0]
            continue
        shape = "x".join(map(str, data.shape))
        where = f" (substituted by {spec})" if name in ctx.substitutes else ""
        ctx.available[name] = f"{len(data.train):,} train / {len(data.test):,} test, {shape}{where}"


def rows_of(run_dirs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {name: summarize_run(path)[0] for name, path in run_dirs.items()}


def num(value: Any, fmt: str = ".4f") -> str:
    return format_value(value, fmt) or "n/a"


def run_many(ctx: Context, configs: dict[str, RunConfig], folder: str) -> dict[str, Path]:
    outcome = run_configs(configs, ctx.out / folder, quiet=ctx.quiet, log=ctx.log)
    for name, why in outcome.failed.items():
        ctx.failures[f"{folder}/{name}"] = why
    return {n: outcome.done[n] for n in configs if n in outcome.done}


def sweep(ctx: Context, folder: str, base: RunConfig, vary: Vary, epochs: int) -> dict[str, Path]:
    """A sweep through ``aelab.studies.sweep.run_sweep``; returns value text -> run dir."""
    result = run_sweep(
        base,
        [vary],
        ctx.out / folder,
        epochs=epochs,
        quiet=ctx.quiet,
        log=ctx.log,
        raise_on_failure=False,
    )
    for name, why in result.outcome.failed.items():
        ctx.failures[f"{folder}/{name}"] = why
    by_value = {}
    for name, point in result.points.items():
        if name in result.outcome.done:
            by_value[point[vary.key]] = result.outcome.done[name]
    return by_value


def test_images(run_dir: Path) -> tuple[Any, Any, Any]:
    """(model, config, DatasetSplits) of a finished run."""
    from aelab.data import load_dataset
    from aelab.training import load_run

    model, cfg = load_run(run_dir)
    data = load_dataset(cfg.data, seed=cfg.train.seed, download=False, progress=False)
    return model, cfg, data


def scores(recon: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """aelab's reconstruction scores of float images in [0, 1] against targets."""
    import torch

    from aelab.metrics.reconstruction import ReconstructionScores

    acc = ReconstructionScores()
    acc.update(torch.as_tensor(recon), torch.as_tensor(target))
    return acc.result()


def verdict(ok: bool | None, yes: str = "supported", no: str = "not supported") -> str:
    return "**not run**" if ok is None else f"**{yes}**" if ok else f"**{no}**"


# --------------------------------------------------------------------------- 1. reproductions


def section_reproductions(ctx: Context) -> tuple[list[str], dict[str, dict[str, Any]]]:
    presets = [n for n in list_presets() if any(fnmatch.fnmatch(n, p) for p in ctx.presets)]
    configs, skipped = {}, []
    for name in presets:
        ds = load_preset(name).data.dataset
        if ds not in ctx.available:
            skipped.append(f"{name} ({ds} not present)")
            continue
        epochs = ctx.profile.preset_epochs
        cap = ctx.profile.max_epochs
        if cap is not None and ctx.profile.cap_presets and not cap_exempt(name):
            epochs = min(epochs or load_preset(name).train.epochs, cap)
        configs[name] = ctx.config(name, epochs=epochs)
    runs = run_many(ctx, configs, "presets")
    rows = rows_of(runs)
    lines = [TITLES["presets"] + "\n"]
    lines.append(
        "Every preset whose data is present, trained at "
        + (
            f"its own epochs capped at {ctx.profile.max_epochs} (R1 keeps its full epochs; "
            "the *epochs* column gives each run's)"
            if ctx.profile.max_epochs is not None and ctx.profile.cap_presets
            else "its own epochs"
            if ctx.profile.preset_epochs is None
            else f"{ctx.profile.preset_epochs} epoch(s)"
        )
        + ". *test loss* is the objective as each reference defines it (its loss and reduction, "
        "plus any penalty); BCE/MSE/PSNR/SSIM use the same definitions for every run.\n"
    )
    cols = [
        ("name", "preset", ""),
        ("dataset", "dataset", ""),
        ("epochs", "epochs", ""),
        ("parameters", "params", ","),
        ("test_loss", "test loss", ".4f"),
        ("test_bce", "BCE", ".4f"),
        ("test_mse", "MSE", ".5f"),
        ("test_psnr", "PSNR dB", ".2f"),
        ("test_ssim", "SSIM", ".4f"),
        ("l0", "L0", ".1f"),
        ("dead_units", "dead", ""),
        ("train_time_s", "wall s", ".1f"),
        ("pca_ratio", "MSE / PCA", "#.3g"),
    ]
    table = markdown_table([rows[n] for n in configs if n in rows], cols)
    lines.append(table)
    if skipped:
        lines.append(f"\nNot run (data absent on this machine): {', '.join(skipped)}.\n")
    r1 = rows.get("r1-fashion-sparse")
    if r1:
        lines.append(
            "\n**R1 beside the Keras reference** (Keras figures quoted from REFERENCE-SYSTEMS.md):\n"
        )
        lines.append("| metric | aelab | Keras (reference) | difference |\n|---|---:|---:|---:|")
        for key, col in (("bce", "test_bce"), ("mse", "test_mse")):
            ours = r1.get(col)
            diff = "n/a" if ours is None else f"{ours - KERAS_R1[key]:+.4f}"
            lines.append(f"| test {key.upper()} | {num(ours)} | {KERAS_R1[key]:.4f} | {diff} |")
        lines.append("")
        ctx.highlights += lines[-5:]
    ctx.highlights += ["Every reference preset whose data is present:\n", table, ""]
    r4 = {n: runs[n] for n in ("r4-fc", "r4-cnn", "r4-sparse", "r4-rnn", "r4-vae") if n in runs}
    if len(r4) >= 2:
        cmp = compare_runs(
            list(r4.values()),
            ctx.out / "presets" / "r4-comparison",
            title="R4 models",
            log=None,
            reuse=True,
        )
        grid = ctx.publish(cmp.files.get("grid", Path("-")), "r4_grid.png")
        bars = ctx.publish(cmp.files["losses"], "r4_losses.png")
        lines.append(
            "\nR4's two figures, regenerated: final test losses, and one test image per class "
            "reconstructed by each model.\n"
        )
        lines += [f"![R4 test losses]({bars})\n"] + (
            [f"![R4 reconstructions]({grid})\n"] if grid else []
        )
    return lines, rows


# --------------------------------------------------------------------------- 2. family study


def section_family(ctx: Context) -> tuple[list[str], dict[str, Path]]:
    lines = [TITLES["family"] + "\n"]
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"], {}
    result = run_family_study(
        ctx.out / "family",
        dataset="fashion-mnist",
        latent_dim=32,
        epochs=ctx.profile.study_epochs,
        sets=ctx.data_sets("fashion-mnist"),
        members=ctx.members,
        quiet=ctx.quiet,
        log=ctx.log,
        raise_on_failure=False,
    )
    for name, why in result.outcome.failed.items():
        ctx.failures[f"family/{name}"] = why
    runs = {n: result.outcome.done[n] for n in result.configs if n in result.outcome.done}
    probes = run_probes(ctx, runs)
    rows = rows_of(runs)
    for name, row in rows.items():
        ae = probes.get(name, {}).get("autoencoder", {})
        row.update({f"probe_{k}": v for k, v in ae.items()})
    seed = next(iter(result.configs.values())).train.seed if result.configs else 0
    lines.append(
        f"{', '.join(result.configs)}: each {ctx.profile.study_epochs} epoch(s) on the same data "
        f"and split, code size 32, seed {seed} (`aelab family-study`). Probes (`aelab probe`, "
        f"fitted on the first {ctx.profile.probe_train_limit:,} training images): logistic "
        "regression and 5-NN accuracy, k-means NMI on the test codes.\n"
    )
    cols = [
        ("name", "model", ""),
        ("family", "family", ""),
        ("regularizer", "regulariser", ""),
        ("parameters", "params", ","),
        ("test_bce", "BCE", ".4f"),
        ("test_mse", "MSE", ".5f"),
        ("test_ssim", "SSIM", ".4f"),
        ("l0", "L0", ".1f"),
        ("dead_units", "dead", ""),
        ("pca_ratio", "MSE / PCA", "#.3g"),
        ("probe_logreg_acc", "logreg acc", ".3f"),
        ("probe_knn_acc", "5-NN acc", ".3f"),
        ("probe_kmeans_nmi", "k-means NMI", ".3f"),
    ]
    lines.append(markdown_table([rows[n] for n in runs], cols))
    reference = next((p for p in probes.values() if p), None)
    if reference:
        lines.append("\nThe same probes on PCA-32 and on raw pixels (same split):\n")
        ref_rows = [
            {"name": k, **reference.get(k, {})} for k in ("pca", "pixels") if k in reference
        ]
        lines.append(
            markdown_table(
                ref_rows,
                [
                    ("name", "representation", ""),
                    ("logreg_acc", "logreg acc", ".3f"),
                    ("knn_acc", "5-NN acc", ".3f"),
                    ("kmeans_nmi", "k-means NMI", ".3f"),
                ],
            )
        )
    if result.comparison is not None:
        grid = ctx.publish(result.comparison.files.get("grid", Path("-")), "family_grid.png")
        bars = ctx.publish(result.comparison.files["losses"], "family_losses.png")
        if grid:
            lines.append(f"\n![The same test images reconstructed by every family]({grid})\n")
            ctx.highlights += [
                f"The same test images reconstructed by every model of the family study "
                f"(code size 32, {ctx.profile.study_epochs} epoch(s) each):\n",
                f"![The same test images reconstructed by every family]({grid})\n",
            ]
        lines.append(f"![Test BCE and MSE per family]({bars})\n")
    return lines, runs


def run_probes(ctx: Context, runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """The downstream section of each run, probing (aelab.reuse.probe) those that lack it.

    The PCA and raw-pixel probes depend only on the data and the code size, not on the
    model, and the pixel probe (k-means and 5-NN on 784-d images) costs minutes: the first
    run of each code size is probed in full by ``aelab.reuse.probe.probe_run``; the others probe
    only their own codes (the same ``aelab.metrics.downstream.probe`` on the same split and
    train limit) and reuse those references."""
    try:
        import aelab.reuse.probe  # noqa: F401
    except ImportError:  # the reuse package is optional for this page
        return {}
    from threadpoolctl import threadpool_limits

    out: dict[str, dict[str, Any]] = {}
    references: dict[int, dict[str, Any]] = {}  # latent_dim -> {"pca", "pixels"}
    for run_dir in runs.values():
        section = read_metrics(run_dir).get("downstream")
        latent = read_metrics(run_dir).get("run", {}).get("latent_dim")
        if section and "pca" in section and "pixels" in section:
            references.setdefault(latent, {k: section[k] for k in ("pca", "pixels")})
    for name, run_dir in runs.items():
        section = read_metrics(run_dir).get("downstream")
        latent = read_metrics(run_dir).get("run", {}).get("latent_dim")
        if not section:
            ctx.log(f"probe {name}")
            try:
                with threadpool_limits(1):  # sklearn/BLAS threads spinning on a busy
                    # 2-core machine made one probe take minutes instead of seconds
                    section = probe_one(ctx, run_dir, references.get(latent))
                references.setdefault(latent, {k: section[k] for k in ("pca", "pixels")})
            except AelabError as exc:
                ctx.failures[f"probe/{name}"] = str(exc)
                continue
        out[name] = section
    return out


def probe_one(ctx: Context, run_dir: Path, reference: dict[str, Any] | None) -> dict[str, Any]:
    """The downstream section of one run: in full, or its codes only given ``reference``."""
    from aelab.reuse.probe import probe_run

    if reference is not None:
        return probe_codes_only(ctx, run_dir, reference)
    return probe_run(run_dir, train_limit=ctx.profile.probe_train_limit, progress=False)


def probe_codes_only(ctx: Context, run_dir: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """``probe_run`` for the autoencoder's codes only, with the PCA/pixel ``reference``
    section of another run of the same code size and data; merged into metrics.json."""
    from aelab.metrics.downstream import probe
    from aelab.report import render_report as rerender_report
    from aelab.reuse.embed import embed_images, run_data
    from aelab.reuse.inference import load
    from aelab.rundir import merge_metrics

    model = load(run_dir)
    data = run_data(model.config, None, progress=False)
    n = ctx.profile.probe_train_limit
    n = len(data.train) if n <= 0 else min(n, len(data.train))
    train_y, test_y = np.asarray(data.train.labels[:n]), np.asarray(data.test.labels)
    ae = probe(
        embed_images(model, data.train.images[:n]),
        train_y,
        embed_images(model, data.test.images),
        test_y,
        n_classes=len(data.classes) if data.classes else None,
    )
    section = {"autoencoder": ae, **reference}
    merge_metrics(run_dir, "downstream", section)
    rerender_report(run_dir)
    return section


# --------------------------------------------------------------------------- 3. sweeps


def section_sweeps(ctx: Context) -> tuple[list[str], dict[str, Any]]:
    from aelab.viz.comparison import sweep_lines, tradeoff_scatter

    lines = [TITLES["sweeps"] + "\n"]
    found: dict[str, Any] = {}
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"], found
    p = ctx.profile
    # Code size, dense and conv.
    code = Vary("model.latent_dim", p.code_sizes)
    series: dict[str, tuple[list[Any], dict[str, list[Any]]]] = {}
    table = []
    for fam, preset in (("dense", f"r3-{DS}-vanilla"), ("conv", f"r3-{DS}-conv")):
        runs = sweep(ctx, f"sweep-code-{fam}", ctx.config(preset), code, p.sweep_epochs)
        rows = rows_of(runs)
        found[f"code-{fam}"] = rows
        xs = [int(v) for v in p.code_sizes if v in rows]
        series[fam] = (xs, {"test MSE": [rows[str(x)]["test_mse"] for x in xs]})
        if fam == "dense":
            pca = [read_metrics(runs[str(x)]).get("pca", {}).get("mse") for x in xs]
            series["PCA"] = (xs, {"test MSE": pca})
    for size in p.code_sizes:
        d, c = found["code-dense"].get(size, {}), found["code-conv"].get(size, {})
        pca = d.get("test_mse") / d["pca_ratio"] if d.get("pca_ratio") else None
        table.append(
            {
                "code": int(size),
                "dense": d.get("test_mse"),
                "conv": c.get("test_mse"),
                "pca": pca,
                "dense_p": d.get("parameters"),
                "conv_p": c.get("parameters"),
                "dense_dead": d.get("dead_units"),
                "conv_dead": c.get("dead_units"),
            }
        )
    lines.append(f"### Code size ({p.sweep_epochs} epoch(s) each)\n")
    lines.append(
        markdown_table(
            table,
            [
                ("code", "code size", ""),
                ("dense", "dense MSE", ".5f"),
                ("conv", "conv MSE", ".5f"),
                ("pca", "PCA MSE", ".5f"),
                ("dense_dead", "dense dead units", ""),
                ("conv_dead", "conv dead units", ""),
                ("dense_p", "dense params", ","),
                ("conv_p", "conv params", ","),
            ],
        )
    )
    dead_runs = [
        f"{fam} at code {size}"
        for size in p.code_sizes
        for fam in ("dense", "conv")
        if collapsed(found[f"code-{fam}"].get(size), size)
    ]
    if dead_runs:
        lines.append(
            f"\nEvery code unit is dead (zero on every test image) for {', '.join(dead_runs)}: "
            "the ReLU code collapsed during training and the decoder outputs one image for "
            "every input, so those points measure a failed run, not the capacity of the "
            "bottleneck (a linear code, `model.code_activation=identity`, cannot die this way).\n"
        )
    fig = sweep_lines("code size", series, title="Fashion-MNIST · test MSE against code size")
    lines.append(f"\n![Test MSE against code size]({ctx.save(fig, 'code_size.png')})\n")

    # Sparsity: weight or k per kind, and the reconstruction-vs-L0 trade-off.
    points: dict[str, list[tuple[float, float, str]]] = {}
    sparse_rows = []
    for kind, (key, values) in p.sparsity.items():
        extra = (
            ["model.sparsity.weight=0", f"model.sparsity.k={values[0]}"] if kind == "topk" else []
        )
        base = ctx.config(f"r3-{DS}-sparse", f"model.sparsity.kind={kind}", *extra)
        runs = sweep(ctx, f"sweep-sparsity-{kind}", base, Vary(key, values), p.sweep_epochs)
        rows = rows_of(runs)
        points[kind] = []
        for value in values:
            row = rows.get(value)
            if row is None:
                continue
            label = f"k={value}" if kind == "topk" else value
            points[kind].append((row.get("l0"), row.get("test_mse"), label))
            sparse_rows.append({"kind": kind, "value": label, **row})
    found["sparsity"] = points
    lines.append(f"### Sparsity: weight or k per mechanism ({p.sweep_epochs} epoch(s) each)\n")
    lines.append(
        markdown_table(
            sparse_rows,
            [
                ("kind", "mechanism", ""),
                ("value", "weight / k", ""),
                ("l0", "L0", ".1f"),
                ("dead_units", "dead", ""),
                ("test_mse", "MSE", ".5f"),
                ("test_bce", "BCE", ".4f"),
            ],
        )
    )
    winner, rule = best_at_low_l0(points)
    lines.append(
        f"\nL0 counts code units with |z| > {ACTIVE_THRESHOLD:g} (aelab's definition); KL sparsity uses a sigmoid "
        "code that is never exactly zero, so its L0 is the code size and its sparsity shows in "
        "the mean activation instead.\n"
    )
    lines.append(f"\nAt a given sparsity: {rule}\n")
    found["sparsity_winner"] = winner
    fig = tradeoff_scatter(points, title="Fashion-MNIST · reconstruction against code sparsity")
    lines.append(f"\n![Reconstruction against L0]({ctx.save(fig, 'sparsity_tradeoff.png')})\n")

    # Noise level for denoising: clean and noisy test reconstruction.
    noise = Vary("model.noise.level", p.noise_levels)
    runs = sweep(ctx, "sweep-noise", ctx.config(f"r3-{DS}-denoising"), noise, p.sweep_epochs)
    noise_rows = []
    for level in p.noise_levels:
        if level not in runs:
            continue
        clean = summarize_run(runs[level])[0]
        noisy = denoising_scores(runs[level], float(level))
        noise_rows.append(
            {
                "level": float(level),
                "clean": clean.get("test_mse"),
                "noisy": noisy["mse"],
                "input": noisy["input_mse"],
                "ssim": noisy["ssim"],
            }
        )
    found["noise"] = noise_rows
    lines.append(f"### Noise level for denoising ({p.sweep_epochs} epoch(s) each)\n")
    lines.append(
        "Trained with Gaussian noise of std σ; tested on clean images, and on test images "
        "corrupted the same way (target: the clean image).\n"
    )
    lines.append(
        markdown_table(
            noise_rows,
            [
                ("level", "σ", "g"),
                ("clean", "MSE on clean input", ".5f"),
                ("noisy", "MSE on noisy input", ".5f"),
                ("input", "MSE of the noisy input itself", ".5f"),
                ("ssim", "SSIM on noisy input", ".4f"),
            ],
        )
    )
    if noise_rows:
        xs = [r["level"] for r in noise_rows]
        fig = sweep_lines(
            "noise σ",
            {
                "clean input": (xs, {"test MSE": [r["clean"] for r in noise_rows]}),
                "noisy input": (xs, {"test MSE": [r["noisy"] for r in noise_rows]}),
            },
            title="Fashion-MNIST · denoising: test MSE against training noise",
        )
        lines.append(f"\n![Denoising against noise level]({ctx.save(fig, 'noise_level.png')})\n")
    return lines, found


def best_at_low_l0(points: dict[str, list[tuple[float, float, str]]]) -> tuple[str | None, str]:
    """The mechanism with the lowest MSE among points at or below the median L0 of all."""
    every = [p for pts in points.values() for p in pts if p[0] is not None and p[1] is not None]
    if not every:
        return None, "no sparse runs finished."
    median = float(np.median([p[0] for p in every]))
    best: tuple[float, str, str] | None = None
    for kind, pts in points.items():
        for l0, mse, label in pts:
            if (
                l0 is not None
                and mse is not None
                and l0 <= median
                and (best is None or mse < best[0])
            ):
                best = (mse, kind, label)
    if best is None:
        return None, "no point at or below the median L0."
    return best[1], (
        f"among runs with L0 ≤ {median:.1f} (the median over all sparse runs), the lowest test MSE "
        f"is **{best[1]}** ({best[2]}, MSE {best[0]:.5f})."
    )


def denoising_scores(run_dir: Path, level: float, seed: int = 0) -> dict[str, float]:
    """Reconstruction of test images corrupted with Gaussian noise ``level`` (the same
    corruption as training), against the clean images; and the noisy input's own MSE."""
    import torch

    from aelab.evaluation.evaluate import reconstruct_images
    from aelab.layers.noise import gaussian

    model, _, data = test_images(run_dir)
    clean = data.test.images.astype(np.float32) / 255.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        noisy = gaussian(torch.as_tensor(clean).clone(), level).numpy()
    out = scores(reconstruct_images(model, noisy), clean)
    out["input_mse"] = float(((noisy - clean) ** 2).mean())
    return out


# --------------------------------------------------------------------------- 4. claims


def section_claims(
    ctx: Context, found: dict[str, Any], study: dict[str, Path], presets: dict[str, dict[str, Any]]
) -> list[str]:
    lines = [TITLES["claims"] + "\n"]
    lines += claim_bottleneck(found)
    lines += claim_conv(ctx, found)
    lines += claim_identity(ctx)
    lines += claim_sparse_interpretable(ctx, study)
    lines += claim_r4(presets)
    return lines


def collapsed(row: dict[str, Any] | None, size: str) -> bool:
    """Every code unit of a run at code ``size`` is dead: it reconstructs one image for all."""
    return bool(row) and row.get("dead_units") == int(size)


def claim_bottleneck(found: dict[str, Any]) -> list[str]:
    rows = found.get("code-dense", {})
    sizes = sorted(rows, key=int)
    mses = [rows[s].get("test_mse") for s in sizes]
    head = '### "The bottleneck size critically affects what is retained" (R3)\n'
    if len(sizes) < 2 or any(m is None for m in mses):
        return [head, f"Verdict: {verdict(None)} (the code-size sweep did not finish).\n"]
    drops = sum(b < a for a, b in itertools.pairwise(mses))
    ratio = mses[0] / mses[-1]
    ok = ratio >= 1.5 and drops >= 0.8 * (len(mses) - 1)
    return [
        head,
        f"Dense test MSE falls from {mses[0]:.5f} at code {sizes[0]} to {mses[-1]:.5f} at code "
        f"{sizes[-1]} ({ratio:.2f}x), decreasing in {drops} of {len(mses) - 1} steps. Rule: "
        "supported when the smallest code's MSE is at least 1.5x the largest's and MSE falls in at "
        f"least 80% of the steps. Verdict: {verdict(ok)}.\n",
    ]


def dense_with_params(ctx: Context, target: int) -> tuple[RunConfig, int]:
    """A dense autoencoder with one hidden layer (code 32) whose parameter count is closest
    to ``target``; the count is measured on the built model."""
    from aelab.api import build_model

    def cfg_for(h: int) -> RunConfig:
        return ctx.config(f"r3-{DS}-deep", f"model.hidden=[{h}]", "model.latent_dim=32")

    def count(h: int) -> int:
        return build_model(cfg_for(h), input_shape=(1, 28, 28)).num_parameters()

    p1, p2 = count(1), count(2)
    h = max(1, round((target - p1) / max(p2 - p1, 1)) + 1)
    return cfg_for(h), count(h)


def claim_conv(ctx: Context, found: dict[str, Any]) -> list[str]:
    head = '### "Convolutional autoencoders beat dense ones on images" (R3)\n'
    dense, conv = found.get("code-dense", {}), found.get("code-conv", {})
    pairs = [(s, dense[s].get("test_mse"), conv[s].get("test_mse")) for s in dense if s in conv]
    pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
    if not pairs:
        return [head, f"Verdict: {verdict(None)}.\n"]
    wins = sum(c < d for _, d, c in pairs)
    lines = [
        head,
        f"At equal code size: conv has the lower test MSE at {wins} of {len(pairs)} code sizes ("
        + ", ".join(
            f"{s}: {c:.5f} vs {d:.5f}" for s, d, c in sorted(pairs, key=lambda p: int(p[0]))
        )
        + ").\n",
    ]
    dead = [s for s, _, _ in pairs if collapsed(conv[s], s)]
    if dead:
        alive = [(s, d, c) for s, d, c in pairs if s not in dead]
        lines.append(
            f"The conv code collapsed (every unit dead) at code {', '.join(dead)}: leaving those "
            f"runs out, conv wins at {sum(c < d for _, d, c in alive)} of {len(alive)} sizes. "
            "The verdict below counts them: the R3 recipe (ReLU code) is what was tested.\n"
        )
    conv32 = conv.get("32")
    equal = None
    if conv32 and conv32.get("parameters"):
        cfg, params = dense_with_params(ctx, int(conv32["parameters"]))
        runs = run_many(
            ctx,
            {"dense-equal-params": cfg.override([f"train.epochs={ctx.profile.sweep_epochs}"])},
            "claims",
        )
        if "dense-equal-params" in runs:
            row = summarize_run(runs["dense-equal-params"])[0]
            equal = conv32["test_mse"] < row["test_mse"]
            lines.append(
                f"At about equal parameter count (code 32): conv {conv32['parameters']:,} parameters, MSE "
                f"{conv32['test_mse']:.5f}; dense 784-{cfg.model.hidden[0]}-32-{cfg.model.hidden[0]}-784 with "
                f"{params:,} parameters, MSE {row['test_mse']:.5f}.\n"
            )
    ok = (wins > len(pairs) / 2) and (equal is not False)
    rule = "Rule: supported when conv wins at most code sizes and at equal parameters."
    lines.append(f"{rule} Verdict: {verdict(ok)}.\n")
    return lines


def claim_identity(ctx: Context) -> list[str]:
    """Overcomplete codes with and without regularisation, tested on random-noise images."""
    import torch

    from aelab.evaluation.evaluate import reconstruction_metrics

    head = '### "Regularisation (sparsity, noise) prevents the identity map" (R3)\n'
    if "fashion-mnist" not in ctx.available:
        return [head, f"Verdict: {verdict(None)} (Fashion-MNIST not present).\n"]
    code = f"model.latent_dim={IDENTITY_CODE}"
    configs = {
        "overcomplete-plain": ctx.config(f"r3-{DS}-vanilla", code),
        "overcomplete-l1": ctx.config(f"r3-{DS}-sparse", code, "model.sparsity.weight=1e-4"),
        "overcomplete-noise": ctx.config(f"r3-{DS}-denoising", code),
    }
    configs = {
        k: v.override([f"train.epochs={ctx.profile.claim_epochs}"]) for k, v in configs.items()
    }
    runs = run_many(ctx, configs, "claims")
    if "overcomplete-plain" not in runs:
        return [head, f"Verdict: {verdict(None)}.\n"]
    rows = []
    noise_mse = {}
    for name, run_dir in runs.items():
        model, _, data = test_images(run_dir)
        gen = np.random.default_rng(0)
        noise_images = gen.integers(
            0, 256, size=(min(1000, len(data.test)), *data.shape), dtype=np.uint8
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            on_noise = reconstruction_metrics(model, noise_images)
        mean_image = data.train.images.astype(np.float32).mean(0) / 255.0
        baseline = float(((noise_images.astype(np.float32) / 255.0 - mean_image) ** 2).mean())
        row = summarize_run(run_dir)[0]
        noise_mse[name] = on_noise["mse"] / baseline
        rows.append(
            {
                "name": name,
                "reg": row.get("regularizer"),
                "test": row.get("test_mse"),
                "noise": on_noise["mse"],
                "base": baseline,
                "rel": noise_mse[name],
                "l0": row.get("l0"),
            }
        )
    plain = noise_mse["overcomplete-plain"]
    regs = {k: v for k, v in noise_mse.items() if k != "overcomplete-plain"}
    better = [k for k, v in regs.items() if v >= 1.5 * plain]
    ok = None if not regs else len(better) == len(regs)
    lines = [
        head,
        f"Code size {IDENTITY_CODE} (> 784 pixels), {ctx.profile.claim_epochs} epoch(s). Each model "
        "reconstructs 1,000 uniform-noise images it never saw; an identity map would reconstruct "
        "them perfectly (MSE 0), a model that learned only clothes reconstructs them no better than "
        "the mean training image (relative error 1).\n",
        markdown_table(
            rows,
            [
                ("name", "model", ""),
                ("reg", "regulariser", ""),
                ("l0", "L0", ".1f"),
                ("test", "test MSE", ".5f"),
                ("noise", "MSE on noise", ".5f"),
                ("base", "mean-image MSE on noise", ".5f"),
                ("rel", "relative", ".3f"),
            ],
        ),
        f"\nRule: supported when every regularised model's relative error on noise is at least 1.5x "
        f"the unregularised one's ({plain:.3f}). Verdict: {verdict(ok, 'supported', 'not supported' if not better else 'partly supported')}"
        + (f" (holds for {', '.join(better)})" if better and not ok else "")
        + ".\n",
    ]
    return lines


def unit_purity(run_dir: Path, k: int = 20) -> float | None:
    """Interpretability proxy: for each live code unit, the share of its ``k`` most-activating
    test images that belong to their most common class; averaged over live units."""
    from aelab.metrics.code import top_activating
    from aelab.models.apply import encode_images

    model, _, data = test_images(run_dir)
    if data.test.labels is None:
        return None
    codes = encode_images(model, data.test.images)
    live = np.abs(codes).max(axis=0) > ACTIVE_THRESHOLD
    if not live.any():
        return None
    top = top_activating(codes, k)[live]
    labels = np.asarray(data.test.labels)[top]
    purity = [np.bincount(row).max() / len(row) for row in labels]
    return float(np.mean(purity))


def claim_sparse_interpretable(ctx: Context, study: dict[str, Path]) -> list[str]:
    from PIL import Image

    from aelab.viz.comparison import side_by_side

    head = '### "Sparse codes are more interpretable" (R1, R3)\n'
    members = [m for m in SPARSITY_STUDY if m in study]
    if "vanilla" not in members or len(members) < 2:
        return [head, f"Verdict: {verdict(None)} (family study runs missing).\n"]
    rows, pictures = [], {}
    for name in members:
        row = summarize_run(study[name])[0]
        code = read_metrics(study[name]).get("code", {})
        rows.append(
            {
                "name": name,
                "l0": row.get("l0"),
                "dead": row.get("dead_units"),
                "hoyer": code.get("hoyer"),
                "purity": unit_purity(study[name]),
                "mse": row.get("test_mse"),
            }
        )
        tiles = study[name] / "figures" / "features.png"
        if tiles.exists():
            pictures[name] = np.asarray(Image.open(tiles).convert("RGB"))
    plain = rows[0]["purity"]
    sparse = [r for r in rows[1:] if r["purity"] is not None]
    margin = 0.01  # purity differences below one point are ties
    higher = [r["name"] for r in sparse if plain is not None and r["purity"] > plain + margin]
    ok = None if plain is None or not sparse else len(higher) == len(sparse)
    lines = [
        head,
        "Proxy measured here: *unit purity*, the share of each live unit's 20 most-activating test "
        "images that come from one class (1 = every unit responds to one kind of garment), "
        "beside L0 and Hoyer sparsity; and the learned features, tile by tile.\n",
        markdown_table(
            rows,
            [
                ("name", "model", ""),
                ("l0", "L0", ".1f"),
                ("dead", "dead", ""),
                ("hoyer", "Hoyer", ".3f"),
                ("purity", "unit purity", ".3f"),
                ("mse", "test MSE", ".5f"),
            ],
        ),
        f"\nRule: supported when every sparse variant's unit purity exceeds the vanilla model's by "
        f"more than {margin}. Verdict: "
        + (
            verdict(ok)
            if ok or not higher
            else f"**partly supported** (holds for {', '.join(higher)})"
        )
        + ".\n",
    ]
    if pictures:
        fig = side_by_side(pictures, title="Learned features (each unit decoded alone), code 32")
        lines.append(
            f"\n![Feature tiles side by side]({ctx.save(fig, 'features_side_by_side.png')})\n"
        )
    return lines


def claim_r4(presets: dict[str, dict[str, Any]]) -> list[str]:
    head = '### "CNN has the lowest loss, the VAE a higher one" (R4)\n'
    names = ("r4-fc", "r4-cnn", "r4-sparse", "r4-rnn", "r4-vae")
    rows = [presets[n] for n in names if n in presets and presets[n].get("test_mse") is not None]
    if len(rows) < len(names):
        return [head, f"Verdict: {verdict(None)} (R4 runs missing).\n"]
    ranked = sorted(rows, key=lambda r: r["test_mse"])
    order = " < ".join(f"{r['name']} {r['test_mse']:.5f}" for r in ranked)
    cnn_lowest = ranked[0]["name"] == "r4-cnn"
    vae_higher = presets["r4-vae"]["test_mse"] > presets["r4-cnn"]["test_mse"]
    codes = ", ".join(f"{r['name']} {r.get('latent_dim')}" for r in rows)
    caveat = ""
    cnn_code = presets["r4-cnn"].get("latent_dim")
    if cnn_code and cnn_code >= 784:
        caveat = (
            f" Caveat: the codes differ in size ({codes}); R4's CNN keeps a {cnn_code}-d code, "
            "more numbers than the 784 pixels, so its lower loss is not a like-for-like "
            "comparison (see the conv-vs-dense claim above for one at equal code size)."
        )
    return [
        head,
        f"Test MSE (the same definition for all five): {order}.{caveat}\n",
        f"CNN lowest: {verdict(cnn_lowest, 'yes', 'no')}; VAE higher than CNN: "
        f"{verdict(vae_higher, 'yes', 'no')}. Verdict: {verdict(cnn_lowest and vae_higher)}.\n",
    ]


# --------------------------------------------------------------------------- 5. best model


def section_best(
    ctx: Context, study: dict[str, Path], presets: dict[str, dict[str, Any]]
) -> list[str]:
    lines = [TITLES["best"] + "\n"]
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"]
    p = ctx.profile
    configs = {
        f"best-{name}": ctx.config(
            f"r3-{DS}-conv", *BEST_CANDIDATES[name], "model.latent_dim=32", epochs=p.best_epochs
        )
        for name in p.best_candidates
    }
    runs = run_many(ctx, configs, "best")
    candidates = {name: path for name, path in runs.items()}
    candidates.update({f"family/{n}": path for n, path in study.items()})
    rows = []
    for name, path in candidates.items():
        row = summarize_run(path)[0]
        if row.get("latent_dim") == 32 and row.get("test_mse") is not None:
            rows.append({**row, "name": name, "path": path})
    if not rows:
        return [*lines, "No candidate finished.\n"]
    rows.sort(key=lambda r: r["test_mse"])
    best = rows[0]
    met = best["test_mse"] <= BEST_TARGET_MSE
    lines.append(
        f"Candidates: the family-study models ({p.study_epochs} epoch(s)) and conv autoencoders "
        f"trained {p.best_epochs} epoch(s), each `r3-{DS}-conv` with these overrides:\n"
    )
    lines += [
        f"- `best-{name}`: " + ", ".join(f"`{o}`" for o in BEST_CANDIDATES[name])
        for name in p.best_candidates
    ]
    lines.append(f"\nTarget: test MSE ≤ {BEST_TARGET_MSE} (PCA-32: 0.0151, reference).\n")
    lines.append(
        markdown_table(
            rows,
            [
                ("name", "candidate", ""),
                ("family", "family", ""),
                ("parameters", "params", ","),
                ("epochs", "epochs", ""),
                ("test_mse", "test MSE", ".5f"),
                ("test_ssim", "SSIM", ".4f"),
                ("train_time_s", "wall s", ".1f"),
            ],
        )
    )
    lines.append(
        f"\nBest: **{best['name']}**, test MSE {best['test_mse']:.5f}; target ≤ "
        f"{BEST_TARGET_MSE}: {verdict(met, 'met', 'not met')}. Its config:\n"
    )
    ctx.highlights.append(
        f"Best model at code size 32 (section 5): **{best['name']}**, test MSE "
        f"{best['test_mse']:.5f} after {best.get('epochs')} epochs (target ≤ {BEST_TARGET_MSE}: "
        f"{'met' if met else 'not met'}).\n"
    )
    config_text = (Path(best["path"]) / "config.toml").read_text(encoding="utf-8")
    # The saved description is the base preset's ("max-pool, BCE"), which the overrides
    # changed: the page shows the settings themselves.
    shown = [ln for ln in config_text.strip().splitlines() if not ln.startswith("description =")]
    lines.append(
        f"(`preset` names the base the overrides were applied to; `{best['path']}/config.toml` "
        "holds it in full.)\n"
    )
    lines.append("```toml\n" + "\n".join(shown) + "\n```\n")
    return lines


# --------------------------------------------------------------------------- the page


def header(ctx: Context, wall: float, train_seconds: float) -> list[str]:
    import torch

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = git_commit()
    cap = ctx.profile.max_epochs
    mode = (
        "**quick** (pipeline check: few epochs on a subset; these numbers are not the references')"
        if ctx.profile.name == "quick"
        else "**full** (the references' epochs)"
    )
    if cap is not None:
        mode = (
            f"**capped**: the full protocol, but **every run's epochs capped at {cap}** "
            f"(`--max-epochs {cap}`). These are NOT the references' full epochs: the numbers "
            f"are what the models reach after at most {cap} epoch(s) and say nothing final "
            "about the references' claims. Rules: R1 (r1-fashion-sparse) is exempt and trains its "
            f"full {load_preset('r1-fashion-sparse').train.epochs} epochs, so that its comparison "
            "with the Keras figures is made at the same epochs; the best-model candidates "
            f"(section 5) train their {ctx.profile.best_epochs} epochs, the target's budget"
            + (
                ""
                if ctx.profile.cap_presets
                else "; every preset of section 1 trains its own full epochs (`--full-presets`): "
                "section 1 is a reproduction at the references' epochs"
            )
        )
    lines = [
        "# aelab results\n",
        "Generated by `benchmarks/reproduce.py`; every number below was computed by the run that "
        "wrote this page (reference figures are labelled as quoted).\n",
        f"- Mode: {mode}",
        f"- Date: {now}",
        f"- Machine: {machine()}, Python {platform.python_version()}, torch {torch.__version__}",
        f"- aelab {__version__}" + (f", commit {commit[:12]}" if commit else ""),
        f"- Wall time of this invocation: {wall:.0f} s; training time of all runs on the page "
        f"(including runs finished by earlier, resumed invocations): {train_seconds:.0f} s. "
        "A run's *wall s* is its training time summed over every invocation that trained it "
        "(a run extended to more epochs keeps its earlier seconds), taken while other jobs "
        "may have shared the CPUs: upper bounds, not benchmarks (`benchmarks/train_bench.py` "
        "measures speed)",
    ]
    limits = [
        f"{k} {v}"
        for k, v in (
            ("train_limit", ctx.profile.train_limit),
            ("test_limit", ctx.profile.test_limit),
        )
        if v
    ]
    if limits:
        lines.append(f"- Data limits: {', '.join(limits)}")
    lines.append(
        "- Datasets: "
        + "; ".join(
            [f"{k}: available ({v})" for k, v in ctx.available.items()]
            + [f"{k}: **not available** ({v})" for k, v in ctx.missing.items()]
        )
    )
    return [*lines, ""]


README_START = "<!-- reproduce.py:results -->"
README_END = "<!-- /reproduce.py:results -->"


def write_readme_block(ctx: Context, page_header: list[str]) -> bool:
    """Rewrite the README's block between README_START and README_END with the page's
    headline (mode, date, machine; R1 beside Keras; the presets; the family figure; the best
    model). False, touching nothing, when the README has no such block."""
    if ctx.readme is None or not ctx.readme.exists():
        return False
    text = ctx.readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    rel = Path(os.path.relpath(ctx.docs, ctx.readme.parent)).as_posix()
    page = f"{rel}/results.md"
    facts = [ln for ln in page_header if ln.startswith(("- Mode:", "- Date:", "- Machine:"))]
    lines = [
        f"Written by `benchmarks/reproduce.py` with [{page}]({page}) (do not edit by hand):\n",
        *facts,
        "",
        *(ln.replace("](figures/", f"]({rel}/figures/") for ln in ctx.highlights),
    ]
    block = README_START + "\n" + "\n".join(lines).strip() + "\n" + README_END
    atomic_write_text(ctx.readme, text[:start] + block + text[end + len(README_END) :])
    return True


def total_train_seconds(out: Path) -> float:
    total = 0.0
    for metrics in out.rglob("metrics.json"):
        try:
            total += float(read_metrics(metrics.parent).get("run", {}).get("wall_time_s") or 0.0)
        except AelabError:
            continue
    return total


def reproduce(ctx: Context) -> Path:
    start = time.perf_counter()
    check_datasets(ctx)
    ctx.log(f"datasets available: {', '.join(ctx.available) or 'none'}")
    body: list[str] = []
    ctx.docs.mkdir(parents=True, exist_ok=True)
    path = ctx.docs / "results.md"

    def write(pending: str | None) -> None:
        """The page with the sections done so far (an interrupted run still leaves a page
        that says which sections it lacks)."""
        lines = list(body)
        note = cap_note(ctx.profile)
        if note:  # every capped section says plainly that its epochs are capped
            uncapped = {TITLES["best"] + "\n"} | (
                set() if ctx.profile.cap_presets else {TITLES["presets"] + "\n"}
            )
            lines = [
                x
                for ln in lines
                for x in ([ln, note] if ln.startswith("## ") and ln not in uncapped else [ln])
            ]
        if ctx.failures:
            lines.append("## Failed runs\n")
            lines += [f"- `{k}`: {v}" for k, v in ctx.failures.items()]
            lines.append("")
        if pending:
            lines.append(f"## Not yet run\n\n**This page is incomplete**: {pending}.\n")
        top = header(ctx, time.perf_counter() - start, total_train_seconds(ctx.out))
        atomic_write_text(path, "\n".join(top + lines) + "\n")
        if pending is None and ctx.sections == tuple(TITLES) and write_readme_block(ctx, top):
            ctx.log(f"updated the results block of {ctx.readme}")

    def section(name: str, run: Callable[[], Any], empty: Any) -> Any:
        """Run section ``name`` (or note that this invocation skips it), then write the page
        with what is still pending."""
        if name in ctx.sections:
            lines, result = run()
        else:
            skipped = f"Not run by this invocation (`--sections {','.join(ctx.sections)}`).\n"
            lines, result = [TITLES[name] + "\n", skipped], empty
        body.extend(lines)
        done.append(name)
        pending = [n for n in TITLES if n not in done and n in ctx.sections]
        write(f"{', '.join(pending)} had not run when this page was written" if pending else None)
        return result

    done: list[str] = []
    preset_rows = section("presets", lambda: section_reproductions(ctx), {})
    study = section("family", lambda: section_family(ctx), {})
    found = section("sweeps", lambda: section_sweeps(ctx), {})
    section("claims", lambda: (section_claims(ctx, found, study, preset_rows), None), None)
    section("best", lambda: (section_best(ctx, study, preset_rows), None), None)
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Reproduce the reference systems and write docs/results.md.",
        epilog="examples:\n  python benchmarks/reproduce.py --quick --out runs/reproduce-quick --docs /tmp/docs\n"
        "  python benchmarks/reproduce.py            # full: hours on 2 CPU cores",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 epoch on a subset: a pipeline check"
    )
    parser.add_argument(
        "--data-dir", help="where the dataset files are (data.data_dir of every run)"
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="use SPEC (e.g. idx:/path) in place of dataset NAME; the page says so (repeatable)",
    )
    parser.add_argument("--out", help="folder of the runs (default runs/reproduce[-quick])")
    parser.add_argument(
        "--docs", default="docs", help="where results.md and figures/ go (default docs)"
    )
    parser.add_argument(
        "--train-limit", type=int, help="override the mode's training-image limit (0 = all)"
    )
    parser.add_argument(
        "--test-limit", type=int, help="override the mode's test-image limit (0 = all)"
    )
    parser.add_argument("--val-size", type=int, help="override the validation split size")
    parser.add_argument(
        "--max-epochs",
        type=int,
        metavar="N",
        help="cap every run's epochs at N (R1 keeps its full epochs for the Keras comparison); "
        "the page says so in its header and in every section",
    )
    parser.add_argument(
        "--full-presets",
        action="store_true",
        help="with --max-epochs: section 1 still trains every preset at its own epochs",
    )
    parser.add_argument(
        "--presets",
        default="*",
        help="comma-separated globs of the presets to reproduce (default all)",
    )
    parser.add_argument(
        "--members",
        help="comma-separated family-study members (default all; see aelab family-study)",
    )
    parser.add_argument(
        "--sections",
        default=",".join(TITLES),
        help=f"comma-separated sections to run (default all: {','.join(TITLES)}); the claims "
        "need presets, family and sweeps. Runs are shared, so invocations with different "
        "sections can run side by side and a final one with all sections writes the whole page",
    )
    parser.add_argument(
        "--readme",
        default="README.md",
        help=f"README whose block between {README_START} and {README_END} gets the page's "
        "headline when every section ran (default README.md; skipped when it has no block)",
    )
    parser.add_argument("--verbose", action="store_true", help="show training progress")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    profile = QUICK if args.quick else FULL
    changes = {
        k: v
        for k, v in (
            ("train_limit", args.train_limit),
            ("test_limit", args.test_limit),
            ("val_size", args.val_size),
        )
        if v is not None
    }
    if changes:
        profile = dataclasses.replace(profile, **changes)
        if "train_limit" in changes:
            profile = dataclasses.replace(
                profile, probe_train_limit=changes["train_limit"] or profile.probe_train_limit
            )
    if args.max_epochs is not None:
        if args.max_epochs < 1:
            print("reproduce: --max-epochs must be at least 1", file=sys.stderr)
            return 2
        profile = capped(profile, args.max_epochs)
    if args.full_presets:
        profile = dataclasses.replace(profile, cap_presets=False)
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    unknown = [s for s in sections if s not in TITLES]
    if unknown or not sections:
        print(
            f"reproduce: --sections {args.sections!r}: expected some of {', '.join(TITLES)}",
            file=sys.stderr,
        )
        return 2
    if "claims" in sections and not set(CLAIM_INPUTS) <= set(sections):
        print(
            f"reproduce: --sections: the claims need {', '.join(CLAIM_INPUTS)} in the same "
            "invocation (their numbers are the claims' evidence)",
            file=sys.stderr,
        )
        return 2
    sections = tuple(s for s in TITLES if s in sections)  # page order
    substitutes = {}
    for item in args.dataset:
        name, sep, spec = item.partition("=")
        if not sep or name not in DATASETS or not spec:
            print(
                f"reproduce: --dataset {item!r}: expected NAME=SPEC with NAME in {', '.join(DATASETS)}",
                file=sys.stderr,
            )
            return 2
        substitutes[name] = spec
    out = Path(args.out or ("runs/reproduce-quick" if args.quick else "runs/reproduce"))
    ctx = Context(
        profile,
        out,
        Path(args.docs),
        args.data_dir,
        substitutes,
        presets=tuple(p.strip() for p in args.presets.split(",") if p.strip()),
        members=tuple(m.strip() for m in args.members.split(",")) if args.members else None,
        sections=sections,
        readme=Path(args.readme),
        quiet=not args.verbose,
    )
    figures = ctx.docs / "figures"
    if figures.is_dir():
        for old in figures.glob("*.png"):  # the page owns this folder: no stale figures
            old.unlink()
    try:
        path = reproduce(ctx)
    except AelabError as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} and {len(ctx.figures)} figures in {figures}")
    if ctx.failures:
        print(f"{len(ctx.failures)} run(s) failed; see the page's last section", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
