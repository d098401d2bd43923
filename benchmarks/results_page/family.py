"""Section 2: the family study at code size 32 on one protocol, every member probed
(logistic regression, 5-NN, k-means), with the probes' PCA and pixel references."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from aelab.errors import AelabError
from aelab.report.page import readme_note
from aelab.report.tables import markdown_table
from aelab.rundir import read_metrics
from aelab.studies.family_study import run_family_study

from .columns import metric, text_column
from .context import Context, rows_of
from .page import Section

TITLE = "## 2. Family study (code size 32, one protocol)"
PROBES = ("logreg_acc", "knn_acc", "kmeans_nmi")
COLUMNS = [
    text_column("name", "model"),
    *(metric(k) for k in ("family", "regularizer", "parameters", "test_bce", "test_mse")),
    *(metric(k) for k in ("test_ssim", "l0", "dead_units", "pca_ratio")),
    *(metric(k, f"probe_{k}") for k in PROBES),
]
# The PCA and pixel rows: the same probes (the catalog's autoencoder entries) on other features.
PROBE_COLUMNS = [text_column("name", "representation"), *(metric(k) for k in PROBES)]


def run(ctx: Context, done: Mapping[str, Any]) -> tuple[list[str], dict[str, Path]]:
    lines = [TITLE + "\n"]
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
    lines.append(markdown_table(list(rows.values()), COLUMNS))
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


SECTION = Section("family", TITLE, run)
