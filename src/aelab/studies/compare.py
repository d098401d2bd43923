"""Many runs, one comparison: a table (CSV + Markdown), a bar chart of test losses, the
reconstruction grid (the same test images reconstructed by every run) and an HTML page.

Everything is read from the run directories (``config.toml`` and ``metrics.json``); a
missing section leaves its cells blank and adds a note saying how to fill it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab.config import ModelConfig, from_dict, load_toml
from aelab.data import load_dataset
from aelab.errors import AelabError, CheckpointError
from aelab.models.apply import reconstruct_images
from aelab.report.comparison import render_comparison
from aelab.report.tables import csv_table, markdown_table
from aelab.report.tables import format_value as format_value  # benchmarks/reproduce.py uses it
from aelab.rundir import CONFIG, atomic_write_text, is_complete, read_metrics
from aelab.training import load_run
from aelab.viz.comparison import metric_bars
from aelab.viz.reconstructions import pick_examples
from aelab.viz.reconstructions import reconstruction_grid as grid_figure
from aelab.viz.save import save_figure
from aelab.viz.style import figure_title


@dataclass(frozen=True)
class Column:
    """One column of the comparison: where its value lives and how it is printed."""

    key: str
    header: str
    section: str  # metrics.json section, or "config" for config.toml, "" for derived
    field: str
    fmt: str = ""  # format spec for Markdown; "" prints as is


COLUMNS: tuple[Column, ...] = (
    Column("name", "run", "", "name"),
    Column("dataset", "dataset", "run", "dataset"),
    Column("family", "family", "run", "family"),
    # From config.toml, not metrics.json: runs written before a family learnt to name its
    # regulariser (the VAE's KL to the prior) still read right.
    Column("regularizer", "regulariser", "", "regularizer"),
    Column("latent_dim", "code", "run", "latent_dim"),
    Column("parameters", "params", "run", "parameters", ","),
    Column("epochs", "epochs", "run", "epochs_completed"),
    Column("test_loss", "test loss", "reconstruction", "loss", ".4f"),
    Column("test_bce", "test BCE", "reconstruction", "bce", ".4f"),
    Column("test_mse", "test MSE", "reconstruction", "mse", ".5f"),
    Column("test_psnr", "PSNR dB", "reconstruction", "psnr", ".2f"),
    Column("test_ssim", "SSIM", "reconstruction", "ssim", ".4f"),
    Column("l0", "L0", "code", "mean_l0", ".1f"),
    Column("dead_units", "dead", "code", "dead_units"),
    Column("train_time_s", "train s", "run", "wall_time_s", ".1f"),
    Column("images_per_s", "images/s", "run", "images_per_s", ",.0f"),
    Column("pca_ratio", "MSE / PCA", "pca", "mse_ratio", ".3g"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
# What each metrics.json section is for, and the command that writes it.
SECTION_SOURCES = {
    "run": "training (`aelab train`)",
    "reconstruction": "evaluation (`aelab evaluate RUN`)",
    "code": "evaluation (`aelab evaluate RUN`)",
    "pca": "evaluation (`aelab evaluate RUN`)",
}
GRID_IMAGES = 10
# Sections measured on the test set: their columns are marked when the runs' test sets differ.
TEST_SET_SECTIONS = ("reconstruction", "code", "pca")
TEST_SET_MARK = "†"


@dataclass
class Comparison:
    """What ``compare_runs`` produced: the rows, notes about gaps, and the files written."""

    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading runs


def summarize_run(run_dir: str | Path) -> tuple[dict[str, Any], list[str]]:
    """One comparison row of ``run_dir`` (keys of ``COLUMNS`` plus ``run_dir``) and the notes
    on what is missing. Values come from metrics.json, then config.toml."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(
            f"run directory {run_dir} does not exist; pass a folder made by aelab train."
        )
    notes: list[str] = []
    config_path = run_dir / CONFIG
    if not config_path.exists():
        raise CheckpointError(
            f"{run_dir} holds no {CONFIG}: it is not a run directory (expected one made by aelab train)."
        )
    config = load_toml(config_path)
    metrics = read_metrics(run_dir)
    missing = [s for s in SECTION_SOURCES if s not in metrics]
    for section in missing:
        notes.append(
            f"{run_dir.name}: metrics.json has no '{section}' section (written by "
            f"{SECTION_SOURCES[section]}); its columns are blank."
        )
    model = config.get("model", {})
    fallback = {
        "name": run_dir.name,
        "dataset": config.get("data", {}).get("dataset"),
        "family": model.get("family"),
        "regularizer": from_dict(ModelConfig, model, "model").regularizer,
        "latent_dim": model.get("latent_dim"),
    }
    row: dict[str, Any] = {"run_dir": str(run_dir)}
    for col in COLUMNS:
        value = metrics.get(col.section, {}).get(col.field) if col.section else None
        if value is None:
            value = fallback.get(col.key)
        if (
            col.key == "test_psnr"
            and value is None
            and metrics.get("reconstruction", {}).get("psnr_infinite")
        ):
            value = math.inf
        row[col.key] = value
    row["name"] = run_dir.name
    data = config.get("data", {})
    evaluated = metrics.get("reconstruction", {}).get("n_images")
    row["test_set"] = (data.get("dataset"), data.get("test_limit", 0), evaluated)
    return row, notes


def test_set_note(rows: Sequence[dict[str, Any]]) -> str | None:
    """A note naming each run's test set when the evaluated runs' test sets differ (dataset,
    ``data.test_limit`` or the number of images evaluated), else None."""
    sets = {r["name"]: r["test_set"] for r in rows if r.get("test_set", (0, 0, None))[2]}
    if len(set(sets.values())) <= 1:
        return None
    described = "; ".join(
        f"{name}: {dataset}, {n:,} test images" + (f" (data.test_limit={limit})" if limit else "")
        for name, (dataset, limit, n) in sets.items()
    )
    return (
        f"the runs were evaluated on different test sets ({described}), so the columns marked "
        f"{TEST_SET_MARK} are not measured on the same images and do not compare directly; "
        "evaluate every run on one test set (the same data.dataset and data.test_limit)."
    )


def table_columns(rows: Sequence[dict[str, Any]]) -> tuple[Column, ...]:
    """``COLUMNS``, with the test-set columns' headers marked when the test sets differ."""
    if test_set_note(rows) is None:
        return COLUMNS
    return tuple(
        dataclasses.replace(c, header=f"{c.header} {TEST_SET_MARK}")
        if c.section in TEST_SET_SECTIONS
        else c
        for c in COLUMNS
    )


def _unique_names(rows: list[dict[str, Any]]) -> None:
    """Runs in different folders may share a basename: prefix the parent folder then."""
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["name"]] = seen.get(row["name"], 0) + 1
    for row in rows:
        if seen[row["name"]] > 1:
            path = Path(row["run_dir"])
            row["name"] = f"{path.parent.name}/{path.name}"


# --------------------------------------------------------------------------- tables


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[Column] = COLUMNS) -> str:
    """comparison.csv: the ``columns`` at full precision, then the run folder."""
    return csv_table(rows, [c.key for c in columns] + ["run_dir"])


# --------------------------------------------------------------------------- the grid


def _dataset_mismatch(configs: dict[str, Any]) -> str | None:
    """A sentence naming the runs whose dataset or image shape differs, or None. (Runs of
    one dataset with different test limits share the grid's images; ``test_set_note``
    says their metrics differ in test set.)"""
    keys = {
        name: (cfg.data.dataset, tuple(cfg.model.input_shape or ()))
        for name, cfg in configs.items()
    }
    if len(set(keys.values())) <= 1:
        return None
    described = ", ".join(
        f"{name}: {ds} {'x'.join(map(str, shape))}" for name, (ds, shape) in keys.items()
    )
    return (
        "the reconstruction grid needs runs on the same dataset and image shape; they differ: "
        f"{described}. Compare runs of one dataset to get the grid."
    )


def reconstruction_grid(
    run_dirs: dict[str, Path],
    *,
    data: Any = None,
    n_images: int = GRID_IMAGES,
) -> tuple[Any, list[str]]:
    """The R4 figure: fixed test images reconstructed by every run, one row per run.

    Returns ``(figure or None, notes)``. Runs without a checkpoint are left out with a note.
    ``data``: the runs' ``DatasetSplits`` when already loaded."""
    notes: list[str] = []
    models: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for name, run_dir in run_dirs.items():
        try:
            models[name], configs[name] = load_run(run_dir)
        except AelabError as exc:
            notes.append(f"{name}: left out of the reconstruction grid ({exc}).")
    if not models:
        return None, notes
    mismatch = _dataset_mismatch(configs)
    if mismatch:
        return None, [*notes, mismatch]
    first = next(iter(configs.values()))
    if data is None:
        data = load_dataset(first.data, seed=first.train.seed, download=False, progress=False)
    test = data.test
    index = np.asarray(pick_examples(test.labels, n_images, total=len(test)))
    images = test.images[index]
    recons = {name: reconstruct_images(model, images) for name, model in models.items()}
    labels = None
    if test.labels is not None and data.classes:
        labels = [data.classes[int(test.labels[i])] for i in index]
    title = figure_title("comparison", data.name, "test images and every run's reconstruction")
    return grid_figure(images, recons, title=title, column_labels=labels), notes


# --------------------------------------------------------------------------- the whole comparison


def loss_bars(rows: Sequence[dict[str, Any]], *, title: str = "test reconstruction loss"):
    """The bar chart of test losses: BCE and MSE (the same definitions for every run), plus
    each run's own objective when all runs have it."""
    names = [r["name"] for r in rows]
    metrics = {
        "test MSE": [r.get("test_mse") for r in rows],
        "test BCE": [r.get("test_bce") for r in rows],
    }
    return metric_bars(names, metrics, title=title)


def expand_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories as given; a folder of runs (sweep, family study, tune) as its
    finished and evaluated runs, in name order (pruned or unfinished trials left out)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / CONFIG).exists():
            children = [
                d
                for d in sorted(path.iterdir())
                if d.is_dir() and is_complete(d) and "reconstruction" in read_metrics(d)
            ]
            if children:
                out += children
                continue
        out.append(path)
    return out


def summarize_runs(run_dirs: Sequence[str | Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """The comparison rows of ``run_dirs`` (names made unique) and the notes on gaps."""
    if not run_dirs:
        raise CheckpointError("nothing to compare: pass at least one run directory.")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for run_dir in run_dirs:
        row, row_notes = summarize_run(run_dir)
        rows.append(row)
        notes += row_notes
    _unique_names(rows)
    mixed = test_set_note(rows)
    return rows, [mixed, *notes] if mixed else notes


def current_comparison(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Comparison | None:
    """The comparison already in ``out_dir`` when it was made from exactly these runs with
    the values they hold now (its CSV is what the runs give today), else None."""
    out = Path(out_dir)
    paths = {
        "csv": out / "comparison.csv",
        "md": out / "comparison.md",
        "html": out / "comparison.html",
    }
    if not all(p.exists() for p in paths.values()):
        return None
    rows, notes = summarize_runs(run_dirs)
    if paths["csv"].read_text(encoding="utf-8") != csv_text(rows):
        return None
    result = Comparison(rows=rows, notes=notes, files=dict(paths))
    stems = {"comparison_losses": "losses", "comparison_grid": "grid"}
    for png in sorted(out.glob("*.png")):
        result.files[stems.get(png.stem, png.stem)] = png
    return result


def compare_runs(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    data: Any = None,
    n_images: int = GRID_IMAGES,
    title: str = "Comparison",
    extra_figures: dict[str, tuple[Any, str]] | None = None,
    log: Callable[[str], None] | None = None,
    reuse: bool = False,
) -> Comparison:
    """Write comparison.csv, comparison.md, the loss bars, the reconstruction grid, any
    ``extra_figures`` (``{stem: (Figure, caption)}``) and comparison.html into ``out_dir``.

    ``reuse``: keep the comparison already there when it is current (``current_comparison``)."""
    if reuse and (existing := current_comparison(run_dirs, out_dir)) is not None:
        if log:
            log(f"comparison in {out_dir} is up to date")
        return existing
    rows, notes = summarize_runs(run_dirs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = Comparison(rows=rows, notes=notes)

    figures: list[tuple[str, str]] = []  # (stem, caption)
    fig = loss_bars(rows, title=f"{title} · test BCE and MSE (pixels in [0, 1])")
    result.files["losses"] = save_figure(fig, out / "comparison_losses.png")
    figures.append(
        ("comparison_losses", "Test BCE and MSE of every run, the same definitions for all.")
    )
    grid, grid_notes = reconstruction_grid(
        {r["name"]: Path(r["run_dir"]) for r in rows}, data=data, n_images=n_images
    )
    notes += grid_notes
    if grid is not None:
        result.files["grid"] = save_figure(grid, out / "comparison_grid.png")
        figures.append(
            ("comparison_grid", "The same test images (top row) reconstructed by every run.")
        )
    for stem, (extra, caption) in (extra_figures or {}).items():
        result.files[stem] = save_figure(extra, out / f"{stem}.png")
        figures.append((stem, caption))

    columns = table_columns(rows)
    md = [f"# {title}\n", markdown_table(rows, columns)]
    if notes:
        md.append("\nNotes:\n\n" + "".join(f"- {n}\n" for n in notes))
    md.append("\n" + "".join(f"![{cap}]({stem}.png)\n\n" for stem, cap in figures))
    result.files["csv"] = out / "comparison.csv"
    atomic_write_text(result.files["csv"], csv_text(rows))
    result.files["md"] = out / "comparison.md"
    atomic_write_text(result.files["md"], "\n".join(md))
    result.files["html"] = render_comparison(
        out, rows=rows, columns=columns, notes=notes, figures=figures, title=title
    )
    if log:
        for note in notes:
            log(f"note: {note}")
        log(f"comparison of {len(rows)} runs written to {out}")
    return result
