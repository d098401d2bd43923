"""Reproduce the reference systems and settle their claims with numbers: writes
``docs/results.md`` and ``docs/figures/*.png``.

    python benchmarks/reproduce.py --quick      # 1 epoch on a subset: checks the pipeline
    python benchmarks/reproduce.py              # the references' epochs: the real numbers

A list of sections, each calling aelab's own APIs (``aelab.studies.runner.run_configs``,
``aelab.studies.sweep.run_sweep``, ``aelab.studies.family_study``, ``aelab.studies.compare``,
``aelab.studies.claims``, ``aelab.reuse.probe``): no side code paths. Runs live under
``--out``; a finished run is never retrained, so an interrupted reproduction is resumed by
running the same command again. Every number on the page is computed in the invocation that
writes it (reference figures quoted from REFERENCE-SYSTEMS.md are labelled as such).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import itertools
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from aelab import __version__
from aelab.config import DataConfig, RunConfig, parse_assignment
from aelab.errors import AelabError
from aelab.metrics.code import ACTIVE_THRESHOLD
from aelab.presets import list_presets, load_preset
from aelab.report.page import (
    Earlier,
    Page,
    readme_note,
    readme_notes,
    replace_block,
    shrink_png,
    split_headings,
)
from aelab.rundir import git_commit, machine, read_metrics
from aelab.studies import claims
from aelab.studies.compare import compare_runs, format_value, markdown_table, summarize_run
from aelab.studies.family_study import run_family_study
from aelab.studies.runner import run_configs, total_train_seconds
from aelab.studies.sweep import Vary, parse_vary, run_sweep

DATASETS = ("fashion-mnist", "mnist", "cifar10")
KERAS_R1 = {"bce": 0.2846, "mse": 0.0130}  # REFERENCE-SYSTEMS.md, R1 (reference, not measured here)
BEST_TARGET_MSE = 0.0065  # issue 7's target for the best model at code 32
FIGURE_LIMIT = 300 * 1024  # bytes per published figure
RESULTS = Path(__file__).resolve().parent / "results"  # what the other benchmarks wrote
FIGURE_LINK = re.compile(r"\]\(figures/([\w.-]+\.png)\)")


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
    code_sizes: tuple[int, ...]
    sparsity: dict[str, Vary]  # mechanism -> its weights or k
    noise_levels: tuple[float, ...]
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
    p, cap = profile, max_epochs
    return dataclasses.replace(
        p,
        max_epochs=cap,
        preset_epochs=None if p.preset_epochs is None else min(p.preset_epochs, cap),
        study_epochs=min(p.study_epochs, cap),
        sweep_epochs=min(p.sweep_epochs, cap),
        claim_epochs=min(p.claim_epochs, cap),
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
    code_sizes=(2, 4, 8, 16, 32, 64, 128),
    sparsity={
        "l1": parse_vary("model.sparsity.weight=1e-6,1e-5,1e-4,1e-3"),
        "kl": parse_vary("model.sparsity.weight=1e-4,1e-3,1e-2,1e-1"),
        "topk": parse_vary("model.sparsity.k=2,4,8,16"),
    },
    noise_levels=(0.1, 0.3, 0.5, 0.7),
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
    code_sizes=(4, 32),
    sparsity={
        "l1": parse_vary("model.sparsity.weight=1e-5,1e-3"),
        "kl": parse_vary("model.sparsity.weight=1e-2"),
        "topk": parse_vary("model.sparsity.k=8"),
    },
    noise_levels=(0.3,),
    best_candidates=("conv-stride",),
    train_limit=2000,
    test_limit=500,
    val_size=500,
    probe_train_limit=2000,
)
# Candidates of the best-model search at code size 32 (overrides of r3-<ds>-conv, shown on
# the page as written): strided convs and transposed convs (5x cheaper on a CPU than R3's
# pool + upsample-conv), a linear code, the MSE objective and a cosine schedule.
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
    "mnist": "## 6. MNIST: family study, code size and the R3 claims",
    "downstream": "## 7. Reusing the codes: one-class anomaly detection and clustering",
}
CLAIM_INPUTS = ("presets", "family", "sweeps")
SPARSITY_STUDY = ("vanilla", "sparse-l1", "sparse-kl", "sparse-topk")
R4 = ("r4-fc", "r4-cnn", "r4-sparse", "r4-rnn", "r4-vae")
IDENTITY_CODE = 1024
DS = "fashion"  # the R3 presets used: r3-fashion-*
Rows = dict[str, dict[str, Any]]  # run name (or swept value) -> comparison row


@dataclass
class Context:
    """Where things go, how configs are adapted to this invocation, and what it found."""

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
    results: Path = RESULTS  # the benchmarks' results that section 7 collects
    earlier: Earlier | None = None  # --carry-over: the page whose parts not run here are kept
    carried: list[str] = field(default_factory=list)  # the parts kept from it
    quiet: bool = True
    log: Callable[[str], None] = print

    def data_values(self, dataset: str) -> dict[str, Any]:
        """Values that point a config of ``dataset`` at its files and apply the limits."""
        p = self.profile
        values: dict[str, Any] = {}
        if dataset in self.substitutes:
            values["data.dataset"] = self.substitutes[dataset]
        elif self.data_dir:
            values["data.data_dir"] = self.data_dir
        limits = {"data.train_limit": p.train_limit, "data.test_limit": p.test_limit}
        values.update({k: v for k, v in limits.items() if v})
        if p.val_size is not None:
            values["data.val_size"] = p.val_size
        return values

    def config(
        self, preset: str, values: Mapping[str, Any] | None = None, epochs: int | None = None
    ) -> RunConfig:
        cfg = load_preset(preset)
        merged = {**self.data_values(cfg.data.dataset), **(values or {})}
        return cfg.with_values(merged if epochs is None else {**merged, "train.epochs": epochs})

    def run(self, configs: dict[str, RunConfig], folder: str) -> dict[str, Path]:
        """Train the configs into ``out/folder``; the finished runs by name."""
        outcome = run_configs(configs, self.out / folder, quiet=self.quiet, log=self.log)
        self.failures.update({f"{folder}/{n}": why for n, why in outcome.failed.items()})
        return outcome.done

    def sweep(self, folder: str, base: RunConfig, vary: Vary, epochs: int) -> dict[str, Path]:
        """One-key sweep into ``out/folder``; the finished runs by value label."""
        quiet, log = self.quiet, self.log
        result = run_sweep(
            base,
            [vary],
            self.out / folder,
            epochs=epochs,
            quiet=quiet,
            log=log,
            raise_on_failure=False,
        )
        self.failures.update({f"{folder}/{n}": w for n, w in result.outcome.failed.items()})
        return result.by_label(vary.key)

    def publish(self, source: Path, name: str) -> str | None:
        """Copy a figure into docs/figures (shrunk to fit FIGURE_LIMIT); its page link."""
        if not source.exists():
            return None
        target = self.docs / "figures" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shrink_png(source, target, FIGURE_LIMIT)
        self.figures.append(name)
        return f"figures/{name}"

    def save(self, fig: Any, name: str) -> str:
        from aelab.viz.save import save_figure

        return self.publish(save_figure(fig, self.out / "figures" / name), name) or ""


def check_datasets(ctx: Context) -> None:
    """Which datasets load here (with the invocation's data options)."""
    from aelab.data import load_dataset

    for name in DATASETS:
        spec = ctx.substitutes.get(name, name)
        data_dir = None if name in ctx.substitutes else ctx.data_dir
        cfg = DataConfig(dataset=spec, data_dir=data_dir, validation="none")
        try:
            data = load_dataset(cfg, download=False, progress=False)
        except AelabError as exc:
            ctx.missing[name] = str(exc).split(". ")[0]
            continue
        shape = "x".join(map(str, data.shape))
        where = f" (substituted by {spec})" if name in ctx.substitutes else ""
        ctx.available[name] = f"{len(data.train):,} train / {len(data.test):,} test, {shape}{where}"


def rows_of(run_dirs: Mapping[str, Path]) -> Rows:
    return {name: summarize_run(path)[0] for name, path in run_dirs.items()}


def num(value: Any, fmt: str = ".4f") -> str:
    return format_value(value, fmt) or "n/a"


def verdict(ok: bool | None, yes: str = "supported", no: str = "not supported") -> str:
    return "**not run**" if ok is None else f"**{yes}**" if ok else f"**{no}**"


# --------------------------------------------------------------------------- 1. reproductions

PRESET_COLUMNS = [
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


def preset_epochs(ctx: Context, name: str) -> int | None:
    epochs, cap = ctx.profile.preset_epochs, ctx.profile.max_epochs
    if cap is not None and ctx.profile.cap_presets and not cap_exempt(name):
        return min(epochs or load_preset(name).train.epochs, cap)
    return epochs


PART_TITLES = {
    "fashion-mnist": "### Fashion-MNIST",
    "mnist": "### MNIST",
    "cifar10": "### CIFAR-10",
}


def section_reproductions(ctx: Context) -> tuple[list[str], Rows]:
    """One part per dataset. A dataset none of whose presets this invocation selects keeps
    its part from the earlier page under ``--carry-over`` (else it is left out)."""
    p = ctx.profile
    presets = [n for n in list_presets() if any(fnmatch.fnmatch(n, pat) for pat in ctx.presets)]
    datasets = {name: load_preset(name).data.dataset for name in presets}
    if p.max_epochs is not None and p.cap_presets:
        epochs = (
            f"its own epochs capped at {p.max_epochs} (R1 keeps its full epochs; "
            "the *epochs* column gives each run's)"
        )
    else:
        epochs = "its own epochs" if p.preset_epochs is None else f"{p.preset_epochs} epoch(s)"
    lines = [
        TITLES["presets"] + "\n",
        f"Every preset whose data is present, trained at {epochs}. *test loss* is the objective "
        "as each reference defines it (its loss and reduction, plus any penalty); "
        "BCE/MSE/PSNR/SSIM use the same definitions for every run.\n",
    ]
    earlier = ctx.earlier.sections.get(TITLES["presets"], []) if ctx.earlier else []
    earlier_parts = split_headings(earlier, "### ")[1]
    rows: Rows = {}
    for dataset, title in PART_TITLES.items():
        names = [n for n, ds in datasets.items() if ds == dataset]
        if names:
            part, part_rows = reproduce_dataset(ctx, dataset, names)
            lines += [title + "\n", *part]
            rows.update(part_rows)
        elif ctx.earlier and (kept := ctx.earlier.carry(title, earlier_parts.get(title))):
            lines += kept
            ctx.carried.append(f"section 1's {title.lstrip('# ')} part")
    return lines, rows


def reproduce_dataset(ctx: Context, dataset: str, names: list[str]) -> tuple[list[str], Rows]:
    """Section 1's part for one dataset: its presets' table and the references' figures."""
    if dataset not in ctx.available:
        return [f"Not run (data absent on this machine): {', '.join(names)}.\n"], {}
    configs = {name: ctx.config(name, epochs=preset_epochs(ctx, name)) for name in names}
    runs = ctx.run(configs, "presets")
    rows = rows_of(runs)
    table = markdown_table(list(rows.values()), PRESET_COLUMNS)
    lines, note = [table], []
    if r1 := rows.get("r1-fashion-sparse"):
        keras = [
            "\n**R1 beside the Keras reference** (Keras figures quoted from REFERENCE-SYSTEMS.md):\n",
            "| metric | aelab | Keras (reference) | difference |\n|---|---:|---:|---:|",
        ]
        for key, col in (("bce", "test_bce"), ("mse", "test_mse")):
            ours = r1.get(col)
            diff = "n/a" if ours is None else f"{ours - KERAS_R1[key]:+.4f}"
            keras.append(f"| test {key.upper()} | {num(ours)} | {KERAS_R1[key]:.4f} | {diff} |")
        lines += [*keras, ""]
        note += [*keras, ""]
    pretty = PART_TITLES[dataset].lstrip("# ")
    note += [f"Every reference preset on {pretty} whose data is present:\n", table, ""]
    r4 = [runs[n] for n in R4 if n in runs]
    if len(r4) >= 2:
        where = ctx.out / "presets" / "r4-comparison"
        cmp = compare_runs(r4, where, title="R4 models", log=None, reuse=True)
        grid = ctx.publish(cmp.files.get("grid", Path("-")), "r4_grid.png")
        bars = ctx.publish(cmp.files["losses"], "r4_losses.png")
        lines.append(
            "\nR4's two figures, regenerated: final test losses, and one test image per class "
            "reconstructed by each model.\n"
        )
        lines += [f"![R4 test losses]({bars})\n"] + (
            [f"![R4 reconstructions]({grid})\n"] if grid else []
        )
    if (r2 := runs.get("r2-mnist-deep-sparse")) is not None:
        lines += r2_figures(ctx, r2)
    return [*lines, "", *readme_note(note)], rows


def r2_figures(ctx: Context, run: Path) -> list[str]:
    """R2's split and its two figures (the reference's loss curves and reconstructions)."""
    cfg = RunConfig.load(run / "config.toml")
    links = {
        stem: ctx.publish(run / "figures" / f"{stem}.png", f"r2_{stem}.png")
        for stem in ("loss_curves", "reconstructions")
    }
    return [
        f"\nR2 on MNIST: the {cfg.data.val_size:,} validation images held out of the training "
        "files (the reference's 50,000 / 10,000 / 10,000 split), its loss curves and "
        "test reconstructions, regenerated:\n",
        *(f"![R2 {stem.replace('_', ' ')}]({link})\n" for stem, link in links.items() if link),
    ]


# --------------------------------------------------------------------------- 2. family study

FAMILY_COLUMNS = [
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
PROBE_COLUMNS = [
    ("name", "representation", ""),
    ("logreg_acc", "logreg acc", ".3f"),
    ("knn_acc", "5-NN acc", ".3f"),
    ("kmeans_nmi", "k-means NMI", ".3f"),
]


def section_family(ctx: Context) -> tuple[list[str], dict[str, Path]]:
    lines = [TITLES["family"] + "\n"]
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"], {}
    part, runs = family_study(ctx, "fashion-mnist", "family", "family")
    return [*lines, *part], runs


def family_study(
    ctx: Context, dataset: str, folder: str, figures: str, *, readme: bool = True
) -> tuple[list[str], dict[str, Path]]:
    """The family study on ``dataset`` into ``out/folder``, probed; its table, the probes'
    references and its figures (``<figures>_grid.png``, ``<figures>_losses.png``)."""
    p = ctx.profile
    result = run_family_study(
        ctx.out / folder,
        dataset=dataset,
        latent_dim=32,
        epochs=p.study_epochs,
        sets=ctx.data_values(dataset),
        members=ctx.members,
        quiet=ctx.quiet,
        log=ctx.log,
        raise_on_failure=False,
    )
    ctx.failures.update({f"{folder}/{n}": why for n, why in result.outcome.failed.items()})
    runs = result.outcome.done
    probes = run_probes(ctx, runs)
    rows = rows_of(runs)
    for name, row in rows.items():
        row.update(
            {f"probe_{k}": v for k, v in probes.get(name, {}).get("autoencoder", {}).items()}
        )
    seed = next(iter(result.configs.values())).train.seed if result.configs else 0
    lines = []
    lines.append(
        f"{', '.join(result.configs)}: each {p.study_epochs} epoch(s) on the same data "
        f"and split, code size 32, seed {seed} (`aelab family-study`). Probes (`aelab probe`, "
        f"fitted on the first {p.probe_train_limit:,} training images): logistic "
        "regression and 5-NN accuracy, k-means NMI on the test codes.\n"
    )
    lines.append(markdown_table(list(rows.values()), FAMILY_COLUMNS))
    if reference := next((p for p in probes.values() if p), None):
        lines.append("\nThe same probes on PCA-32 and on raw pixels (same split):\n")
        refs = [{"name": k, **reference[k]} for k in ("pca", "pixels") if k in reference]
        lines.append(markdown_table(refs, PROBE_COLUMNS))
    if result.comparison is not None:
        grid = ctx.publish(result.comparison.files.get("grid", Path("-")), f"{figures}_grid.png")
        bars = ctx.publish(result.comparison.files["losses"], f"{figures}_losses.png")
        if grid:
            picture = f"![The same test images reconstructed by every family]({grid})\n"
            lines.append("\n" + picture)
        lines.append(f"![Test BCE and MSE per family]({bars})\n")
        if grid and readme:
            caption = (
                "The same test images reconstructed by every model of the family study "
                f"(code size 32, {p.study_epochs} epoch(s) each):\n"
            )
            lines += ["", *readme_note([caption, picture])]
    return lines, runs


def run_probes(ctx: Context, runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """The downstream section of each run, probing (aelab.reuse.probe) those that lack it.

    The PCA and raw-pixel probes depend only on the data and the code size, not on the
    model, and the pixel probe (k-means and 5-NN on 784-d images) costs minutes: the first
    run of each code size is probed in full by ``aelab.reuse.probe.probe_run``; the others
    probe only their own codes (the same ``aelab.metrics.downstream.probe`` on the same split
    and train limit) and reuse those references."""
    from threadpoolctl import threadpool_limits

    out: dict[str, dict[str, Any]] = {}
    references: dict[int, dict[str, Any]] = {}  # latent_dim -> {"pca", "pixels"}
    for run_dir in runs.values():
        metrics = read_metrics(run_dir)
        section, latent = metrics.get("downstream"), metrics.get("run", {}).get("latent_dim")
        if section and "pca" in section and "pixels" in section:
            references.setdefault(latent, {k: section[k] for k in ("pca", "pixels")})
    for name, run_dir in runs.items():
        metrics = read_metrics(run_dir)
        section, latent = metrics.get("downstream"), metrics.get("run", {}).get("latent_dim")
        if not section:
            ctx.log(f"probe {name}")
            try:
                # sklearn/BLAS threads spinning on a busy 2-core machine made one probe take
                # minutes instead of seconds
                with threadpool_limits(1):
                    section = probe_one(ctx, run_dir, references.get(latent))
                references.setdefault(latent, {k: section[k] for k in ("pca", "pixels")})
            except AelabError as exc:
                ctx.failures[f"probe/{name}"] = str(exc)
                continue
        out[name] = section
    return out


def probe_one(ctx: Context, run_dir: Path, reference: dict[str, Any] | None) -> dict[str, Any]:
    """The downstream section of one run: in full (``probe_run``), or given the PCA/pixel
    ``reference`` of another run of the same code size and data, its codes only (merged into
    its metrics.json)."""
    from aelab.metrics.downstream import probe
    from aelab.report import render_report as rerender_report
    from aelab.reuse.embed import embed_images, run_data
    from aelab.reuse.inference import load
    from aelab.reuse.probe import probe_run
    from aelab.rundir import merge_metrics

    if reference is None:
        return probe_run(run_dir, train_limit=ctx.profile.probe_train_limit, progress=False)
    model = load(run_dir)
    data = run_data(model.config, None, progress=False)
    n = ctx.profile.probe_train_limit
    n = len(data.train) if n <= 0 else min(n, len(data.train))
    ae = probe(
        embed_images(model, data.train.images[:n]),
        np.asarray(data.train.labels[:n]),
        embed_images(model, data.test.images),
        np.asarray(data.test.labels),
        n_classes=len(data.classes) if data.classes else None,
    )
    section = {"autoencoder": ae, **reference}
    merge_metrics(run_dir, "downstream", section)
    rerender_report(run_dir)
    return section


# --------------------------------------------------------------------------- 3. sweeps

CODE_COLUMNS = [
    ("code", "code size", ""),
    ("dense", "dense MSE", ".5f"),
    ("conv", "conv MSE", ".5f"),
    ("pca", "PCA MSE", ".5f"),
    ("dense_dead", "dense dead units", ""),
    ("conv_dead", "conv dead units", ""),
    ("dense_p", "dense params", ","),
    ("conv_p", "conv params", ","),
]
SPARSITY_COLUMNS = [
    ("kind", "mechanism", ""),
    ("value", "weight / k", ""),
    ("l0", "L0", ".1f"),
    ("dead_units", "dead", ""),
    ("test_mse", "MSE", ".5f"),
    ("test_bce", "BCE", ".4f"),
]
NOISE_COLUMNS = [
    ("level", "σ", "g"),
    ("clean", "MSE on clean input", ".5f"),
    ("noisy", "MSE on noisy input", ".5f"),
    ("input", "MSE of the noisy input itself", ".5f"),
    ("ssim", "SSIM on noisy input", ".4f"),
]


def section_sweeps(ctx: Context) -> tuple[list[str], dict[str, Rows]]:
    lines = [TITLES["sweeps"] + "\n"]
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"], {}
    code_lines, found = sweep_code_size(ctx)
    return [*lines, *code_lines, *sweep_sparsity(ctx), *sweep_noise(ctx)], found


def sweep_code_size(
    ctx: Context, ds: str = DS, prefix: str = ""
) -> tuple[list[str], dict[str, Rows]]:
    """Code size, dense and conv (the ``r3-<ds>-*`` presets, runs in ``out/<prefix>sweep-code-*``);
    PCA's error at each size beside them."""
    from aelab.viz.comparison import sweep_lines

    p = ctx.profile
    code = Vary("model.latent_dim", p.code_sizes)
    found: dict[str, Rows] = {}
    series: dict[str, tuple[list[Any], dict[str, list[Any]]]] = {}
    for fam, preset in (("dense", f"r3-{ds}-vanilla"), ("conv", f"r3-{ds}-conv")):
        runs = ctx.sweep(f"{prefix}sweep-code-{fam}", ctx.config(preset), code, p.sweep_epochs)
        rows = found[f"code-{fam}"] = rows_of(runs)
        xs = [x for x in p.code_sizes if str(x) in rows]
        series[fam] = (xs, {"test MSE": [rows[str(x)]["test_mse"] for x in xs]})
        if fam == "dense":
            pca = [read_metrics(runs[str(x)]).get("pca", {}).get("mse") for x in xs]
            series["PCA"] = (xs, {"test MSE": pca})
    table = []
    for size in p.code_sizes:
        d, c = found["code-dense"].get(str(size), {}), found["code-conv"].get(str(size), {})
        pca = d.get("test_mse") / d["pca_ratio"] if d.get("pca_ratio") else None
        table.append(
            {"code": size, "dense": d.get("test_mse"), "conv": c.get("test_mse"), "pca": pca}
            | {f"{fam}_p": r.get("parameters") for fam, r in (("dense", d), ("conv", c))}
            | {f"{fam}_dead": r.get("dead_units") for fam, r in (("dense", d), ("conv", c))}
        )
    lines = [
        f"### Code size ({p.sweep_epochs} epoch(s) each)\n",
        markdown_table(table, CODE_COLUMNS),
    ]
    dead = [
        f"{fam} at code {size}"
        for size in p.code_sizes
        for fam in ("dense", "conv")
        if claims.collapsed(found[f"code-{fam}"].get(str(size)), size)
    ]
    if dead:
        lines.append(
            f"\nEvery code unit is dead (zero on every test image) for {', '.join(dead)}: "
            "the ReLU code collapsed during training and the decoder outputs one image for "
            "every input, so those points measure a failed run, not the capacity of the "
            "bottleneck (a linear code, `model.code_activation=identity`, cannot die this way).\n"
        )
    name = PART_TITLES[load_preset(f"r3-{ds}-vanilla").data.dataset].lstrip("# ")
    fig = sweep_lines("code size", series, title=f"{name} · test MSE against code size")
    saved = ctx.save(fig, f"{prefix.replace('/', '_')}code_size.png")
    lines.append(f"\n![Test MSE against code size]({saved})\n")
    return lines, found


def sweep_sparsity(ctx: Context) -> list[str]:
    """Weight or k per sparsity mechanism, and the reconstruction-vs-L0 trade-off."""
    from aelab.viz.comparison import tradeoff_scatter

    points: dict[str, list[claims.TradeoffPoint]] = {}
    rows = []
    for kind, vary in ctx.profile.sparsity.items():
        values: dict[str, Any] = {"model.sparsity.kind": kind}
        if kind == "topk":
            values |= {"model.sparsity.weight": 0, "model.sparsity.k": vary.values[0]}
        base = ctx.config(f"r3-{DS}-sparse", values)
        runs = ctx.sweep(f"sweep-sparsity-{kind}", base, vary, ctx.profile.sweep_epochs)
        found = rows_of(runs)
        points[kind] = []
        for value in (v for v in vary.labels if v in found):
            label = f"k={value}" if kind == "topk" else value
            points[kind].append((found[value].get("l0"), found[value].get("test_mse"), label))
            rows.append({"kind": kind, "value": label, **found[value]})
    win = claims.best_at_low_l0(points)
    rule = (
        "no sparse runs finished."
        if win is None
        else f"among runs with L0 ≤ {win.median_l0:.1f} (the median over all sparse runs), the "
        f"lowest test MSE is **{win.mechanism}** ({win.label}, MSE {win.mse:.5f})."
    )
    fig = tradeoff_scatter(points, title="Fashion-MNIST · reconstruction against code sparsity")
    return [
        f"### Sparsity: weight or k per mechanism ({ctx.profile.sweep_epochs} epoch(s) each)\n",
        markdown_table(rows, SPARSITY_COLUMNS),
        f"\nL0 counts code units with |z| > {ACTIVE_THRESHOLD:g} (aelab's definition); KL "
        "sparsity uses a sigmoid code that is never exactly zero, so its L0 is the code size "
        "and its sparsity shows in the mean activation instead.\n",
        f"\nAt a given sparsity: {rule}\n",
        f"\n![Reconstruction against L0]({ctx.save(fig, 'sparsity_tradeoff.png')})\n",
    ]


def sweep_noise(ctx: Context) -> list[str]:
    """Noise level for denoising: clean and noisy test reconstruction."""
    from aelab.viz.comparison import sweep_lines

    p = ctx.profile
    noise = Vary("model.noise.level", p.noise_levels)
    runs = ctx.sweep("sweep-noise", ctx.config(f"r3-{DS}-denoising"), noise, p.sweep_epochs)
    rows = []
    for level in (v for v in p.noise_levels if str(v) in runs):
        noisy = claims.denoising_scores(runs[str(level)], level)
        clean = summarize_run(runs[str(level)])[0].get("test_mse")
        rows.append(
            {"level": level, "clean": clean, "noisy": noisy["mse"], "input": noisy["input_mse"]}
            | {"ssim": noisy["ssim"]}
        )
    lines = [
        f"### Noise level for denoising ({p.sweep_epochs} epoch(s) each)\n",
        "Trained with Gaussian noise of std σ; tested on clean images, and on test images "
        "corrupted the same way (target: the clean image).\n",
        markdown_table(rows, NOISE_COLUMNS),
    ]
    if rows:
        xs = [r["level"] for r in rows]
        curves = {
            f"{k} input": (xs, {"test MSE": [r[k] for r in rows]}) for k in ("clean", "noisy")
        }
        title = "Fashion-MNIST · denoising: test MSE against training noise"
        fig = sweep_lines("noise σ", curves, title=title)
        lines.append(f"\n![Denoising against noise level]({ctx.save(fig, 'noise_level.png')})\n")
    return lines


# --------------------------------------------------------------------------- 4. claims


def section_claims(
    ctx: Context, found: dict[str, Rows], study: dict[str, Path], presets: Rows
) -> list[str]:
    return [
        TITLES["claims"] + "\n",
        *claim_bottleneck(found),
        *claim_conv(ctx, found),
        *claim_identity(ctx),
        *claim_sparse_interpretable(ctx, study),
        *claim_r4(presets),
    ]


def claim_bottleneck(found: dict[str, Rows]) -> list[str]:
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


def claim_conv(
    ctx: Context, found: dict[str, Rows], ds: str = DS, folder: str = "claims"
) -> list[str]:
    head = '### "Convolutional autoencoders beat dense ones on images" (R3)\n'
    dense, conv = found.get("code-dense", {}), found.get("code-conv", {})
    pairs = [(s, dense[s].get("test_mse"), conv[s].get("test_mse")) for s in dense if s in conv]
    pairs = sorted((p for p in pairs if None not in p), key=lambda p: int(p[0]))
    if not pairs:
        return [head, f"Verdict: {verdict(None)}.\n"]
    wins = sum(c < d for _, d, c in pairs)
    each = ", ".join(f"{s}: {c:.5f} vs {d:.5f}" for s, d, c in pairs)
    lines = [
        head,
        f"At equal code size: conv has the lower test MSE at {wins} of {len(pairs)} code sizes "
        f"({each}).\n",
    ]
    if dead := [s for s, _, _ in pairs if claims.collapsed(conv[s], int(s))]:
        alive = [(s, d, c) for s, d, c in pairs if s not in dead]
        lines.append(
            f"The conv code collapsed (every unit dead) at code {', '.join(dead)}: leaving those "
            f"runs out, conv wins at {sum(c < d for _, d, c in alive)} of {len(alive)} sizes. "
            "The verdict below counts them: the R3 recipe (ReLU code) is what was tested.\n"
        )
    equal = None
    conv32 = conv.get("32")
    if conv32 and conv32.get("parameters"):

        def dense(h: int) -> RunConfig:
            values = {"model.hidden": [h], "model.latent_dim": 32}
            return ctx.config(f"r3-{ds}-deep", values, ctx.profile.sweep_epochs)

        cfg, params = claims.dense_of_size(dense, int(conv32["parameters"]), (1, 28, 28))
        if run := ctx.run({"dense-equal-params": cfg}, folder).get("dense-equal-params"):
            row = summarize_run(run)[0]
            equal = conv32["test_mse"] < row["test_mse"]
            h = cfg.model.hidden[0]
            lines.append(
                f"At about equal parameter count (code 32): conv {conv32['parameters']:,} "
                f"parameters, MSE {conv32['test_mse']:.5f}; dense 784-{h}-32-{h}-784 with "
                f"{params:,} parameters, MSE {row['test_mse']:.5f}.\n"
            )
    ok = (wins > len(pairs) / 2) and (equal is not False)
    rule = "Rule: supported when conv wins at most code sizes and at equal parameters."
    return [*lines, f"{rule} Verdict: {verdict(ok)}.\n"]


IDENTITY_COLUMNS = [
    ("name", "model", ""),
    ("reg", "regulariser", ""),
    ("l0", "L0", ".1f"),
    ("test", "test MSE", ".5f"),
    ("noise", "MSE on noise", ".5f"),
    ("base", "mean-image MSE on noise", ".5f"),
    ("rel", "relative", ".3f"),
]


def claim_identity(ctx: Context) -> list[str]:
    """Overcomplete codes with and without regularisation, tested on random-noise images."""
    head = '### "Regularisation (sparsity, noise) prevents the identity map" (R3)\n'
    if "fashion-mnist" not in ctx.available:
        return [head, f"Verdict: {verdict(None)} (Fashion-MNIST not present).\n"]
    code, epochs = {"model.latent_dim": IDENTITY_CODE}, ctx.profile.claim_epochs
    l1 = {**code, "model.sparsity.weight": 1e-4}
    configs = {
        "overcomplete-plain": ctx.config(f"r3-{DS}-vanilla", code, epochs),
        "overcomplete-l1": ctx.config(f"r3-{DS}-sparse", l1, epochs),
        "overcomplete-noise": ctx.config(f"r3-{DS}-denoising", code, epochs),
    }
    runs = ctx.run(configs, "claims")
    if "overcomplete-plain" not in runs:
        return [head, f"Verdict: {verdict(None)}.\n"]
    rows = []
    for name, run_dir in runs.items():
        on_noise = claims.noise_reconstruction(run_dir)
        row = summarize_run(run_dir)[0]
        rows.append(
            {"name": name, "reg": row.get("regularizer"), "test": row.get("test_mse")}
            | {"noise": on_noise.mse, "base": on_noise.baseline, "rel": on_noise.relative}
            | {"l0": row.get("l0")}
        )
    plain = rows[0]["rel"]
    better = [r["name"] for r in rows[1:] if r["rel"] >= 1.5 * plain]
    ok = None if len(rows) < 2 else len(better) == len(rows) - 1
    word = verdict(ok, "supported", "not supported" if not better else "partly supported")
    return [
        head,
        f"Code size {IDENTITY_CODE} (> 784 pixels), {epochs} epoch(s). Each model reconstructs "
        "1,000 uniform-noise images it never saw; an identity map would reconstruct them "
        "perfectly (MSE 0), a model that learned only clothes reconstructs them no better than "
        "the mean training image (relative error 1).\n",
        markdown_table(rows, IDENTITY_COLUMNS),
        "\nRule: supported when every regularised model's relative error on noise is at least "
        f"1.5x the unregularised one's ({plain:.3f}). Verdict: {word}"
        + (f" (holds for {', '.join(better)})" if better and not ok else "")
        + ".\n",
    ]


PURITY_COLUMNS = [
    ("name", "model", ""),
    ("l0", "L0", ".1f"),
    ("dead", "dead", ""),
    ("hoyer", "Hoyer", ".3f"),
    ("purity", "unit purity", ".3f"),
    ("mse", "test MSE", ".5f"),
]


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
        rows.append(
            {"name": name, "l0": row.get("l0"), "dead": row.get("dead_units")}
            | {"hoyer": read_metrics(study[name]).get("code", {}).get("hoyer")}
            | {"purity": claims.unit_purity(study[name]), "mse": row.get("test_mse")}
        )
        if (tiles := study[name] / "figures" / "features.png").exists():
            pictures[name] = np.asarray(Image.open(tiles).convert("RGB"))
    plain = rows[0]["purity"]
    sparse = [r for r in rows[1:] if r["purity"] is not None]
    margin = 0.01  # purity differences below one point are ties
    higher = [r["name"] for r in sparse if plain is not None and r["purity"] > plain + margin]
    ok = None if plain is None or not sparse else len(higher) == len(sparse)
    partly = f"**partly supported** (holds for {', '.join(higher)})"
    lines = [
        head,
        "Proxy measured here: *unit purity*, the share of each live unit's 20 most-activating test "
        "images that come from one class (1 = every unit responds to one kind of garment), "
        "beside L0 and Hoyer sparsity; and the learned features, tile by tile.\n",
        markdown_table(rows, PURITY_COLUMNS),
        "\nRule: supported when every sparse variant's unit purity exceeds the vanilla model's by "
        f"more than {margin}. Verdict: {verdict(ok) if ok or not higher else partly}.\n",
    ]
    if pictures:
        fig = side_by_side(pictures, title="Learned features (each unit decoded alone), code 32")
        link = ctx.save(fig, "features_side_by_side.png")
        lines.append(f"\n![Feature tiles side by side]({link})\n")
    return lines


def claim_r4(presets: Rows) -> list[str]:
    head = '### "CNN has the lowest loss, the VAE a higher one" (R4)\n'
    rows = [presets[n] for n in R4 if n in presets and presets[n].get("test_mse") is not None]
    if len(rows) < len(R4):
        return [head, f"Verdict: {verdict(None)} (R4 runs missing).\n"]
    ranked = sorted(rows, key=lambda r: r["test_mse"])
    order = " < ".join(f"{r['name']} {r['test_mse']:.5f}" for r in ranked)
    cnn_lowest = ranked[0]["name"] == "r4-cnn"
    vae_higher = presets["r4-vae"]["test_mse"] > presets["r4-cnn"]["test_mse"]
    codes = ", ".join(f"{r['name']} {r.get('latent_dim')}" for r in rows)
    caveat = ""
    if (cnn_code := presets["r4-cnn"].get("latent_dim")) and cnn_code >= 784:
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

BEST_COLUMNS = [
    ("name", "candidate", ""),
    ("family", "family", ""),
    ("parameters", "params", ","),
    ("epochs", "epochs", ""),
    ("test_mse", "test MSE", ".5f"),
    ("test_ssim", "SSIM", ".4f"),
    ("train_time_s", "wall s", ".1f"),
]


def section_best(ctx: Context, study: dict[str, Path]) -> list[str]:
    lines = [TITLES["best"] + "\n"]
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"]
    p = ctx.profile

    def candidate(name: str) -> RunConfig:
        values = dict(parse_assignment(o) for o in BEST_CANDIDATES[name])
        return ctx.config(f"r3-{DS}-conv", {**values, "model.latent_dim": 32}, p.best_epochs)

    runs = ctx.run({f"best-{n}": candidate(n) for n in p.best_candidates}, "best")
    runs |= {f"family/{n}": path for n, path in study.items()}
    rows = [{**summarize_run(path)[0], "name": n, "path": path} for n, path in runs.items()]
    rows = [r for r in rows if r.get("latent_dim") == 32 and r.get("test_mse") is not None]
    rows.sort(key=lambda r: r["test_mse"])
    if not rows:
        return [*lines, "No candidate finished.\n"]
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
    lines.append(markdown_table(rows, BEST_COLUMNS))
    lines.append(
        f"\nBest: **{best['name']}**, test MSE {best['test_mse']:.5f}; target ≤ "
        f"{BEST_TARGET_MSE}: {verdict(met, 'met', 'not met')}. Its config:\n"
    )
    highlight = (
        f"Best model at code size 32 (section 5): **{best['name']}**, test MSE "
        f"{best['test_mse']:.5f} after {best.get('epochs')} epochs (target ≤ {BEST_TARGET_MSE}: "
        f"{'met' if met else 'not met'}).\n"
    )
    # The saved description is the base preset's ("max-pool, BCE"), which the overrides
    # changed: the page shows the settings themselves.
    config_text = (Path(best["path"]) / "config.toml").read_text(encoding="utf-8")
    shown = [ln for ln in config_text.strip().splitlines() if not ln.startswith("description =")]
    lines.append(
        f"(`preset` names the base the overrides were applied to; `{best['path']}/config.toml` "
        "holds it in full.)\n"
    )
    lines.append("```toml\n" + "\n".join(shown) + "\n```\n")
    return [*lines, "", *readme_note([highlight])]


# --------------------------------------------------------------------------- 6. MNIST


def section_mnist(ctx: Context) -> list[str]:
    """The parts of the protocol that MNIST's presets allow (R3 names both datasets): the
    family study, the code-size sweep (dense and conv), and the two claims they settle."""
    lines = [TITLES["mnist"] + "\n"]
    if "mnist" not in ctx.available:
        return [*lines, "Not run: MNIST is not present.\n"]
    lines.append(
        "The protocol of sections 2-4 on MNIST, where its presets allow it (R3 defines dense "
        "and conv members for both datasets; the sparsity, noise and identity studies stay on "
        "Fashion-MNIST).\n"
    )
    part, _ = family_study(ctx, "mnist", "mnist/family", "mnist_family", readme=False)
    code_lines, found = sweep_code_size(ctx, "mnist", "mnist/")
    claims_lines = [*claim_bottleneck(found), *claim_conv(ctx, found, "mnist", "mnist/claims")]
    heads = [ln.strip().removeprefix("### ") for ln in claims_lines if ln.startswith("###")]
    said = [
        ln.rsplit("Verdict: ", 1)[1].strip().rstrip(".")
        for ln in claims_lines
        if "Verdict: **" in ln
    ]
    verdicts = [f"- {head}: {verdict}" for head, verdict in zip(heads, said, strict=True)]
    return [
        *lines,
        "### Family study (code size 32)\n",
        *part,
        *(ln.replace("### Code size", "### Sweep: code size", 1) for ln in code_lines),
        *(ln.replace('### "', '### MNIST: "', 1) for ln in claims_lines),
        "",
        *readme_note(["The R3 claims on MNIST (section 6):\n", *verdicts]),
    ]


# --------------------------------------------------------------------------- 7. downstream


def section_downstream(ctx: Context) -> list[str]:
    """The one-class and clustering evidence, collected from what ``downstream_bench.py``
    and ``cluster_results.py`` wrote (hours of training each; their commands are shown)."""
    from downstream_bench import anomaly_lines, anomaly_summary

    lines = [TITLES["downstream"] + "\n"]
    rel = Path(os.path.relpath(ctx.results, ctx.docs)).as_posix()
    report = ctx.results / "downstream_bench.json"
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        lines.append(
            f"Collected from [`{rel}/downstream_bench.md`]({rel}/downstream_bench.md), written "
            "by `benchmarks/downstream_bench.py`: each model trained on one class at a time, "
            "with settings fixed before the runs (nothing tuned on test anomalies); every "
            "part names the command that computed it.\n"
        )
        lines += anomaly_lines(data, "###", commands=True)
        table = [ln for ln in anomaly_summary(data.get("anomaly", [])) if ln.startswith("|")]
        caption = (
            "One-class anomaly detection (section 7): mean AUROC over the ten classes, each "
            "model's best score beside the pixel baselines fitted on the same normal images:\n"
        )
        lines += ["", *readme_note([caption, *table])]
    else:
        lines.append(f"One-class anomaly detection: no `{report}` (run `downstream_bench.py`).\n")
    clusters = ctx.results / "cluster.md"
    if clusters.exists():
        text = clusters.read_text(encoding="utf-8").replace("](cluster/", f"]({rel}/cluster/")
        body = [ln for ln in text.splitlines() if not ln.startswith("# ")]
        lines += [
            "",
            "### Deep clustering\n",
            f"Collected from [`{rel}/cluster.md`]({rel}/cluster.md), written by "
            "`benchmarks/cluster_results.py` from `aelab cluster` runs.\n",
            *("#" + ln if ln.startswith("## ") else ln for ln in body),
        ]
    else:
        lines.append(f"Clustering: no `{clusters}` (run `cluster_results.py`).\n")
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
    if tuple(ctx.presets) != ("*",):
        lines.append(
            f"- Presets: only `--presets {','.join(ctx.presets)}` "
            + ("ran here" if ctx.carried else "(section 1 holds no others)")
        )
    if ctx.carried:
        lines.append(
            f"- Carried over from the earlier page (`--carry-over`), each part marked with "
            f"where it came from and not counted in the times above: {', '.join(ctx.carried)}"
        )
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
    headline: mode, date, machine, then the page's README notes (R1 beside Keras, the
    presets of each dataset, the family figure, the best model), carried-over parts'
    included. False, touching nothing, when the README has no such block."""
    if ctx.readme is None:
        return False
    notes = readme_notes((ctx.docs / "results.md").read_text(encoding="utf-8"))
    rel = Path(os.path.relpath(ctx.docs, ctx.readme.parent)).as_posix()
    page = f"{rel}/results.md"
    facts = [ln for ln in page_header if ln.startswith(("- Mode:", "- Date:", "- Machine:"))]
    lines = [
        f"Written by `benchmarks/reproduce.py` with [{page}]({page}) (do not edit by hand):\n",
        *facts,
        "",
        *(ln.replace("](figures/", f"]({rel}/figures/") for ln in notes),
    ]
    return replace_block(ctx.readme, README_START, README_END, "\n".join(lines))


def reproduce(ctx: Context) -> Path:
    """Run the chosen sections in page order, rewriting the page after each (the others
    carried over from ``ctx.earlier`` or marked as not run); the README block too when every
    section ran or was carried over."""
    start = time.perf_counter()
    check_datasets(ctx)
    ctx.log(f"datasets available: {', '.join(ctx.available) or 'none'}")
    p = ctx.profile
    uncapped = {"best", "downstream"} | (set() if p.cap_presets else {"presets"})
    note = cap_note(p)  # every capped section says plainly that its epochs are capped
    page = Page(
        ctx.docs / "results.md",
        TITLES,
        ctx.sections,
        lambda: header(ctx, time.perf_counter() - start, total_train_seconds(ctx.out)),
        failures=ctx.failures,
        notes={k: note for k in TITLES if k not in uncapped} if note else {},
        skipped_text=f"Not run by this invocation (`--sections {','.join(ctx.sections)}`).\n",
        earlier=ctx.earlier,
        carried=ctx.carried,
    )
    presets = page.section("presets", lambda: section_reproductions(ctx), {})
    study = page.section("family", lambda: section_family(ctx), {})
    found = page.section("sweeps", lambda: section_sweeps(ctx), {})
    page.section("claims", lambda: (section_claims(ctx, found, study, presets), None), None)
    page.section("best", lambda: (section_best(ctx, study), None), None)
    page.section("mnist", lambda: (section_mnist(ctx), None), None)
    page.section("downstream", lambda: (section_downstream(ctx), None), None)
    if page.complete and write_readme_block(ctx, page.write()):
        ctx.log(f"updated the results block of {ctx.readme}")
    return page.path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Reproduce the reference systems and write docs/results.md.",
        epilog="examples:\n  python benchmarks/reproduce.py --quick --out runs/reproduce-quick "
        "--docs /tmp/docs\n  python benchmarks/reproduce.py            # full: hours on 2 CPU cores",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="1 epoch on a subset: a pipeline check")
    add("--data-dir", help="where the dataset files are (data.data_dir of every run)")
    add(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="use SPEC (e.g. idx:/path) in place of dataset NAME; the page says so (repeatable)",
    )
    add("--out", help="folder of the runs (default runs/reproduce[-quick])")
    add("--docs", default="docs", help="where results.md and figures/ go (default docs)")
    add("--train-limit", type=int, help="override the mode's training-image limit (0 = all)")
    add("--test-limit", type=int, help="override the mode's test-image limit (0 = all)")
    add("--val-size", type=int, help="override the validation split size")
    add(
        "--max-epochs",
        type=int,
        metavar="N",
        help="cap every run's epochs at N (R1 keeps its full epochs for the Keras comparison); "
        "the page says so in its header and in every section",
    )
    add(
        "--full-presets",
        action="store_true",
        help="with --max-epochs: section 1 still trains every preset at its own epochs",
    )
    add(
        "--presets",
        default="*",
        help="comma-separated globs of the presets to reproduce (default all)",
    )
    add(
        "--members",
        help="comma-separated family-study members (default all; see aelab family-study)",
    )
    add(
        "--sections",
        default=",".join(TITLES),
        help=f"comma-separated sections to run (default all: {','.join(TITLES)}); the claims "
        "need presets, family and sweeps. Runs are shared, so invocations with different "
        "sections can run side by side and a final one with all sections writes the whole page",
    )
    add(
        "--readme",
        default="README.md",
        help=f"README whose block between {README_START} and {README_END} gets the page's "
        "headline when every section ran (default README.md; skipped when it has no block)",
    )
    add(
        "--carry-over",
        action="store_true",
        help="keep what this invocation does not run from the existing page: the other "
        "sections, and section 1's parts of datasets with no preset in --presets (each "
        "marked with the date and commit of the page it came from)",
    )
    add("--verbose", action="store_true", help="show training progress")
    args = parser.parse_args(argv)
    args.error = lambda msg: parser.exit(2, f"reproduce: {msg}\n")
    return args


def split(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def profile_of(args: argparse.Namespace) -> Profile:
    """The mode's profile with the command line's limits and epoch cap applied."""
    profile = QUICK if args.quick else FULL
    limits = {"train_limit": args.train_limit, "test_limit": args.test_limit}
    changes = {k: v for k, v in {**limits, "val_size": args.val_size}.items() if v is not None}
    if args.train_limit is not None:
        changes["probe_train_limit"] = args.train_limit or profile.probe_train_limit
    profile = dataclasses.replace(profile, **changes)
    if args.max_epochs is not None:
        if args.max_epochs < 1:
            args.error("--max-epochs must be at least 1")
        profile = capped(profile, args.max_epochs)
    return dataclasses.replace(profile, cap_presets=not args.full_presets)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    profile = profile_of(args)
    sections = split(args.sections)
    if not sections or not set(sections) <= set(TITLES):
        args.error(f"--sections {args.sections!r}: expected some of {', '.join(TITLES)}")
    if "claims" in sections and not set(CLAIM_INPUTS) <= set(sections):
        args.error(
            f"--sections: the claims need {', '.join(CLAIM_INPUTS)} in the same invocation "
            "(their numbers are the claims' evidence)"
        )
    substitutes = dict(item.partition("=")[::2] for item in args.dataset)
    if any(n not in DATASETS or not spec for n, spec in substitutes.items()):
        args.error(
            f"--dataset {args.dataset}: expected NAME=SPEC with NAME in {', '.join(DATASETS)}"
        )
    ctx = Context(
        profile,
        Path(args.out or ("runs/reproduce-quick" if args.quick else "runs/reproduce")),
        Path(args.docs),
        args.data_dir,
        substitutes,
        presets=split(args.presets),
        members=split(args.members) or None,
        sections=tuple(s for s in TITLES if s in sections),  # page order
        readme=Path(args.readme),
        earlier=Earlier.read(Path(args.docs) / "results.md") if args.carry_over else None,
        quiet=not args.verbose,
    )
    try:
        path = reproduce(ctx)
    except AelabError as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    figures = ctx.docs / "figures"
    linked = set(FIGURE_LINK.findall(path.read_text(encoding="utf-8")))
    for old in figures.glob("*.png"):  # the page owns this folder: no stale figures
        if old.name not in linked:
            old.unlink()
    print(f"wrote {path} and {len(ctx.figures)} figures in {figures}")
    if ctx.failures:
        print(f"{len(ctx.failures)} run(s) failed; see the page's last section", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
