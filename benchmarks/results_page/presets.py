"""Section 1: every reference preset whose data is present, one part per dataset; R1 beside
the Keras figures, R4's and R2's figures regenerated."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aelab.config import RunConfig
from aelab.presets import list_presets, load_preset
from aelab.report.page import readme_note, split_headings
from aelab.report.tables import markdown_table
from aelab.studies.compare import compare_runs

from .columns import label, metric, show, text_column
from .context import DATASET_NAMES, Context, Rows, rows_of
from .page import Section
from .protocol import cap_exempt

TITLE = "## 1. Reproductions of the reference presets"
PART_TITLES = {dataset: f"### {name}" for dataset, name in DATASET_NAMES.items()}
KERAS_R1 = {"test_bce": 0.2846, "test_mse": 0.0130}  # docs/reference-systems.md, R1 (quoted)
R4 = ("r4-fc", "r4-cnn", "r4-sparse", "r4-rnn", "r4-vae")
COLUMNS = [
    text_column("name", "preset"),
    *(metric(k) for k in ("dataset", "epochs", "parameters", "test_loss", "test_bce")),
    *(metric(k) for k in ("test_mse", "test_psnr", "test_ssim", "l0", "dead_units")),
    *(metric(k) for k in ("train_time_s", "pca_ratio")),
]


def preset_epochs(ctx: Context, name: str) -> int | None:
    epochs, cap = ctx.profile.preset_epochs, ctx.profile.max_epochs
    if cap is not None and ctx.profile.cap_presets and not cap_exempt(name):
        return min(epochs or load_preset(name).train.epochs, cap)
    return epochs


def run(ctx: Context, done: Mapping[str, Any]) -> tuple[list[str], Rows]:
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
        TITLE + "\n",
        f"Every preset whose data is present, trained at {epochs}. *{label('test_loss')}* is the objective "
        "as each reference defines it (its loss and reduction, plus any penalty); "
        "BCE/MSE/PSNR/SSIM use the same definitions for every run.\n",
    ]
    earlier = ctx.earlier.sections.get(TITLE, []) if ctx.earlier else []
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
    table = markdown_table(list(rows.values()), COLUMNS)
    lines, note = [table], []
    if r1 := rows.get("r1-fashion-sparse"):
        keras = [
            "\n**R1 beside the Keras reference** (Keras figures quoted from docs/reference-systems.md, R1):\n",
            "| metric | aelab | Keras (reference) | difference |\n|---|---:|---:|---:|",
        ]
        for key, theirs in KERAS_R1.items():  # quoted to 4 decimals: so are the differences
            ours = r1.get(key)
            diff = "n/a" if ours is None else f"{ours - theirs:+.4f}"
            keras.append(f"| {label(key)} | {show(key, ours)} | {theirs:.4f} | {diff} |")
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


SECTION = Section("presets", TITLE, run, capped=lambda profile: profile.cap_presets)
