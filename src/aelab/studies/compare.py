"""Many runs, one comparison: a table (CSV + Markdown), bars of the shared test metrics,
the loss curves of runs that share a loss, the reconstruction grid and an HTML page.

The columns come from the metric catalog (:mod:`aelab.metrics.catalog`): the run's
identity, the config keys the runs differ in (what a sweep or a search varied), then the
comparable scores and informative numbers of every metrics.json section any run has, in
catalog order. "Best" is decided by a metric that means the same for every run (``rank_by``,
test MSE by default): the best value of each score column is marked and the best run named.
The test loss (each run's own objective) is shown only when every run shares one loss
definition, and never ranks. Everything is read from the run directories (``config.toml``,
``metrics.json``, ``history.csv``); a section some runs lack leaves their cells blank with a
note naming the command that fills it. The table's columns, best values, Markdown and CSV
are :mod:`aelab.studies.table`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab.config import ModelConfig, from_dict, load_toml
from aelab.data import load_dataset
from aelab.errors import AelabError, CheckpointError
from aelab.metrics import catalog
from aelab.metrics.catalog import DEFAULT_RANK, SECTIONS, Metric
from aelab.models.apply import reconstruct_images
from aelab.report.comparison import render_comparison
from aelab.report.tables import text_table
from aelab.rundir import CONFIG, atomic_write_text, flatten, is_complete, read_history, read_metrics
from aelab.studies.table import (
    CANDIDATES,
    IDENTITY,
    LOSS,
    TABLE_SECTIONS,
    Column,
    Table,
    best_values,
    config_column,
    csv_text,
    display_rows,
    markdown_text,
    metric_column,
    rank,
    section_columns,
)
from aelab.studies.tune import MANIFEST as TUNE_MANIFEST
from aelab.training import load_run
from aelab.viz.comparison import metric_bars
from aelab.viz.loss_curves import overlay_loss_curves
from aelab.viz.reconstructions import pick_examples
from aelab.viz.reconstructions import reconstruction_grid as grid_figure
from aelab.viz.save import save_figure
from aelab.viz.style import figure_title

# The sections every trained and evaluated run holds: a run without one gets a note even
# when no other run has it.
EVALUATED = ("run", "reconstruction", "code", "pca")
SWEEP_MANIFEST = "sweep.json"  # written by aelab.studies.sweep: the keys it varied
# Config keys that name or describe a run rather than vary it, or that an identity column
# already shows: left out of the varied keys found by comparing configs.
CONFIG_NAMES = ("name", "description", "preset", "data.dataset", "model.family", "model.latent_dim")
GRID_IMAGES = 10
TEST_SET_MARK = "†"  # on the columns measured on the test set, when the test sets differ


@dataclass
class Comparison:
    """What ``compare_runs`` produced: the rows (one per run, keyed by column key), the
    columns shown, notes about gaps, the files written, the metric runs are ranked by
    (``rank_by``) and the best run by it (``best``, None when no run has it)."""

    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    best: str | None = None
    rank_by: str = DEFAULT_RANK
    columns: list[Column] = field(default_factory=list)
    ranking: str = ""  # the sentence naming the best run


# --------------------------------------------------------------------------- reading runs


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config.toml, metrics.json)`` of a run directory, checked to be one."""
    if not run_dir.is_dir():
        raise CheckpointError(
            f"run directory {run_dir} does not exist; pass a folder made by aelab train."
        )
    if not (run_dir / CONFIG).exists():
        raise CheckpointError(
            f"{run_dir} holds no {CONFIG}: it is not a run directory (expected one made by aelab train)."
        )
    return load_toml(run_dir / CONFIG), read_metrics(run_dir)


def loss_definition(model: ModelConfig) -> str:
    """The definition of a run's own loss, as text (``dense bce (mean) + l1 × 1e-05``):
    runs with the same text have test and validation losses that compare. Input noise is
    left out: the test loss is computed without corruption."""
    text = f"{model.family} {model.loss} ({model.reduction})"
    sparsity = model.sparsity
    if sparsity.kind == "l1":
        text += f" + l1 × {sparsity.weight:g}"
    elif sparsity.kind == "kl":
        text += f" + kl(rho={sparsity.rho:g}) × {sparsity.weight:g}"
    elif sparsity.kind == "topk":
        text += f" + top-k aux × {sparsity.aux_weight:g}"
    beta = getattr(model, "beta", None)
    if beta:
        text += f" + KL × {beta:g}"
    return text


def _missing_notes(
    name: str, has: Sequence[str], sections: Sequence[str], shown: Sequence[str] | None = None
) -> list[str]:
    """A note per section of ``sections`` the run lacks; ``shown``: the sections with
    columns (None: all of them)."""
    return [
        f"{name}: metrics.json has no '{s}' section (written by {SECTIONS[s].written_by}); "
        + ("its columns are blank." if shown is None or s in shown else "no run has it.")
        for s in sections
        if s not in has
    ]


def summarize_run(run_dir: str | Path) -> tuple[dict[str, Any], list[str]]:
    """One comparison row of ``run_dir`` and the notes on what it lacks of an evaluated run.

    The row holds ``name``, ``run_dir``, the identity columns (from metrics.json, else
    config.toml), every catalog metric that can be a column (None when absent), the run's
    ``loss`` definition, its metrics.json ``sections`` and its ``test_set``."""
    run_dir = Path(run_dir)
    config, metrics = _read_run(run_dir)
    model_table = config.get("model", {})
    model = from_dict(ModelConfig, model_table, "model")
    fallback = {
        "dataset": config.get("data", {}).get("dataset"),
        "family": model_table.get("family"),
        # From config.toml, not metrics.json: runs written before a family learnt to name
        # its regulariser (the VAE's KL to the prior) still read right.
        "regularizer": model.regularizer,
        "latent_dim": model_table.get("latent_dim"),
    }
    row: dict[str, Any] = {"name": run_dir.name}
    for key in IDENTITY[1:]:
        value = None if key == "regularizer" else catalog.lookup(metrics, key)
        row[key] = fallback.get(key) if value is None else value
    for metric in CANDIDATES:
        row[metric.key] = catalog.lookup(metrics, metric)
    row["loss"] = loss_definition(model)
    row["sections"] = [s for s in SECTIONS if s in metrics]
    data = config.get("data", {})
    evaluated = metrics.get("reconstruction", {}).get("n_images")
    row["test_set"] = (data.get("dataset"), data.get("test_limit", 0), evaluated)
    row["run_dir"] = str(run_dir)
    return row, _missing_notes(run_dir.name, row["sections"], EVALUATED)


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


def loss_note(rows: Sequence[dict[str, Any]]) -> str | None:
    """Why the test loss column is left out (the runs' loss definitions differ), or None."""
    groups = loss_groups(rows)
    if len(groups) <= 1:
        return None
    described = "; ".join(f"{', '.join(names)}: {loss}" for loss, names in groups.items())
    return (
        f"the test loss (each run's own objective) is left out: the runs' loss definitions "
        f"differ ({described}), so their losses do not compare. The other columns mean the "
        "same for every run."
    )


def loss_groups(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The runs' names by loss definition, in row order."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row["loss"], []).append(row["name"])
    return groups


def _unique_names(rows: list[dict[str, Any]]) -> None:
    """Runs in different folders may share a basename: prefix the parent folder then."""
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["name"]] = seen.get(row["name"], 0) + 1
    for row in rows:
        if seen[row["name"]] > 1:
            path = Path(row["run_dir"])
            row["name"] = f"{path.parent.name}/{path.name}"


# --------------------------------------------------------------------------- varied keys


def _manifest_keys(run_dirs: Sequence[Path]) -> list[str] | None:
    """The keys a sweep varied (``sweep.json``) or a search searched (``tune.toml``) when
    every run sits in that one folder, else None."""
    parents = {Path(d).resolve().parent for d in run_dirs}
    if len(parents) != 1:
        return None
    (parent,) = parents
    try:
        if (parent / SWEEP_MANIFEST).exists():
            return list(json.loads((parent / SWEEP_MANIFEST).read_text(encoding="utf-8"))["vary"])
        if (parent / TUNE_MANIFEST).exists():
            return list(load_toml(parent / TUNE_MANIFEST).get("search", {}))
    except (AelabError, OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable manifest: fall back to the configs' differences
    return None


def varied_keys(run_dirs: Sequence[Path]) -> list[str]:
    """The config keys (dotted) the runs were varied in: a sweep's ``--vary`` keys or a
    search's parameters when the runs are one sweep's or search's, else the keys every
    run's config.toml has and whose values differ between them."""
    if len(run_dirs) < 2:
        return []
    keys = _manifest_keys(run_dirs)
    if keys is not None:
        return keys
    flat = [flatten(load_toml(Path(d) / CONFIG)) for d in run_dirs]
    common = [k for k in flat[0] if all(k in f for f in flat[1:])]
    return [k for k in common if k not in CONFIG_NAMES and len({repr(f[k]) for f in flat}) > 1]


def _config_value(run_dir: Path, key: str) -> Any:
    node: Any = load_toml(run_dir / CONFIG)
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return str(node) if isinstance(node, list) else node


# --------------------------------------------------------------------------- the table


def comparison_table(
    run_dirs: Sequence[str | Path], *, varied: Sequence[str] | None = None
) -> Table:
    """Read the runs and choose the columns: identity, the ``varied`` config keys (None:
    :func:`varied_keys`) after the name, then every section some run has."""
    if not run_dirs:
        raise CheckpointError("nothing to compare: pass at least one run directory.")
    paths = [Path(d) for d in run_dirs]
    rows = [summarize_run(d)[0] for d in paths]
    _unique_names(rows)
    varied = list(varied_keys(paths) if varied is None else varied)
    for row, path in zip(rows, paths, strict=True):
        row.update({key: _config_value(path, key) for key in varied})

    present = [s for s in TABLE_SECTIONS if any(s in r["sections"] for r in rows)]
    notes = [n for n in (test_set_note(rows), loss_note(rows)) if n]
    for row in rows:
        wanted = [s for s in SECTIONS if s in EVALUATED or s in present]
        notes += _missing_notes(row["name"], row["sections"], wanted, ["run", *present])
    mark = TEST_SET_MARK if test_set_note(rows) else ""

    identity = [metric_column(catalog.CATALOG[k]) for k in IDENTITY]
    columns = [identity[0], *map(config_column, varied), *identity[1:]]
    for section in present:
        if section == catalog.CATALOG[LOSS].section and loss_note(rows) is None:
            columns.append(metric_column(catalog.CATALOG[LOSS], mark))
        columns += [metric_column(m, mark) for m in section_columns(section)]
    columns += [metric_column(m) for m in section_columns("run")]
    # A metric no run has (the VAE's KL among dense runs, N2D when no run clustered with
    # it) leaves no blank column.
    columns = columns[: len(identity) + len(varied)] + [
        c
        for c in columns[len(identity) + len(varied) :]
        if any(r.get(c.key) is not None for r in rows)
    ]
    return Table(rows, columns, notes, varied)


def summary_text(result: Comparison) -> str:
    """The end of a sweep or family study: a plain table of the runs (name, varied keys,
    the comparable scores) and the best run by the rank metric."""
    columns = [c for c in result.columns if c.key == "name" or c.metric is None or c.marks_best]
    first = max([len(str(r["name"])) for r in result.rows] + [len(columns[0].header)]) + 2
    width = max([12] + [len(c.header) + 2 for c in columns[1:]])
    return text_table(result.rows, columns, first=first, width=width) + "\n" + result.ranking


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


def loss_bars(
    rows: Sequence[dict[str, Any]],
    *,
    title: str = "test reconstruction error",
    rank_by: str = DEFAULT_RANK,
):
    """Bars of the reconstruction errors that mean the same for every run (the catalog's
    comparable lower-is-better reconstruction scores: test BCE and MSE), and of the rank
    metric when it is another."""
    metrics = [
        m
        for m in catalog.section_metrics("reconstruction", kinds=("score",))
        if m.comparable and m.higher_is_better is False
    ]
    ranked = catalog.rankable(rank_by)
    if ranked not in metrics:
        metrics.append(ranked)
    names = [r["name"] for r in rows]
    return metric_bars(names, {m.label: [r.get(m.key) for r in rows] for m in metrics}, title=title)


@dataclass(frozen=True)
class CurveGroup:
    """Runs sharing one loss definition, drawn on one axis: the figure's ``stem``, the
    ``loss`` definition and each run's history rows (``{name: rows}``)."""

    stem: str
    loss: str
    histories: dict[str, list[dict[str, Any]]]

    @property
    def caption(self) -> str:
        return (
            f"Training and validation loss per epoch of the runs that share one loss "
            f"definition ({self.loss}): {', '.join(self.histories)}."
        )


def loss_curve_groups(rows: Sequence[dict[str, Any]]) -> tuple[list[CurveGroup], list[str]]:
    """The groups of two or more runs sharing a loss definition (``loss_groups``) with their
    histories (history.csv), and notes on runs left out; runs with different losses are
    never drawn on one axis."""
    groups = [(loss, names) for loss, names in loss_groups(rows).items() if len(names) > 1]
    by_name = {r["name"]: r for r in rows}
    out, notes = [], []
    for i, (loss, names) in enumerate(groups, 1):
        histories = {}
        for name in names:
            try:
                history = read_history(by_name[name]["run_dir"])
            except AelabError as exc:
                notes.append(f"{name}: left out of the loss curves ({exc}).")
                continue
            if history:
                histories[name] = history
        if len(histories) < 2:
            continue
        stem = "comparison_loss_curves" + (f"_{i}" if len(groups) > 1 else "")
        out.append(CurveGroup(stem, loss, histories))
    return out, notes


def interactive_loss_curves(groups: Sequence[CurveGroup], *, title: str) -> dict[str, Any]:
    """The same groups as Bokeh figures for comparison.html (hover, toggle series):
    ``{stem: figure}``, standing in for the PNG of that stem on the page."""
    from aelab.viz.interactive import overlay_loss_curves_figure

    figures = {
        g.stem: overlay_loss_curves_figure(g.histories, title=_curve_title(title, g))
        for g in groups
    }
    return {stem: fig for stem, fig in figures.items() if fig is not None}


def _curve_title(title: str, group: CurveGroup) -> str:
    return f"{title} · loss per epoch · {group.loss}"


def expand_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories as given; a folder of runs (sweep, family study, tune) as its
    finished and evaluated runs, in name order (pruned or unfinished trials left out)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / CONFIG).exists():
            finished = [d for d in sorted(path.iterdir()) if d.is_dir() and is_complete(d)]
            children = [d for d in finished if "reconstruction" in read_metrics(d)]
            if children:
                out += children
                continue
            if finished:  # e.g. trained with --no-eval: runs, but nothing to compare yet
                raise CheckpointError(
                    f"{path} holds {len(finished)} finished runs, none evaluated (trained with "
                    f"--no-eval?); evaluate them first (aelab evaluate {finished[0]}, ...)."
                )
        out.append(path)
    return out


def summarize_runs(
    run_dirs: Sequence[str | Path], *, varied: Sequence[str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The comparison rows of ``run_dirs`` (names made unique, varied config keys added)
    and the notes on gaps."""
    table = comparison_table(run_dirs, varied=varied)
    return table.rows, table.notes


def _result(table: Table, metric: Metric) -> Comparison:
    best, ranking = rank(table.rows, metric)
    return Comparison(
        rows=table.rows,
        notes=list(table.notes),
        best=best,
        rank_by=metric.key,
        columns=table.columns,
        ranking=ranking,
    )


def current_comparison(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    rank_by: str = DEFAULT_RANK,
    varied: Sequence[str] | None = None,
) -> Comparison | None:
    """The comparison already in ``out_dir`` when it was made from exactly these runs with
    the values they hold now and ranked by ``rank_by`` (its CSV is what the runs give
    today, its Markdown names the same best run), else None."""
    metric = catalog.rankable(rank_by)
    out = Path(out_dir)
    paths = {
        "csv": out / "comparison.csv",
        "md": out / "comparison.md",
        "html": out / "comparison.html",
    }
    if not all(p.exists() for p in paths.values()):
        return None
    table = comparison_table(run_dirs, varied=varied)
    if paths["csv"].read_text(encoding="utf-8") != csv_text(table.rows, table.columns):
        return None
    result = _result(table, metric)
    if _ranking_line(result.ranking) not in paths["md"].read_text(encoding="utf-8"):
        return None
    result.files = dict(paths)
    stems = {"comparison_losses": "losses", "comparison_grid": "grid"}
    for png in sorted(out.glob("*.png")):
        result.files[stems.get(png.stem, png.stem.removeprefix("comparison_"))] = png
    return result


def _ranking_line(ranking: str) -> str:
    return f"**{ranking[0].upper()}{ranking[1:]}.** Best value of each score column in bold."


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
    rank_by: str = DEFAULT_RANK,
    varied: Sequence[str] | None = None,
) -> Comparison:
    """Write comparison.csv, comparison.md, the metric bars, the loss curves of runs that
    share a loss, the reconstruction grid, any ``extra_figures`` (``{stem: (Figure,
    caption)}``) and comparison.html into ``out_dir``.

    Rows stay in the order given; the best value of each score column is marked and the
    best run by ``rank_by`` (a catalog key of a comparable score) named. ``varied``: the
    config keys shown after the name (None: found from the runs). ``reuse``: keep the
    comparison already there when it is current (``current_comparison``)."""
    metric = catalog.rankable(rank_by)
    if (
        reuse
        and (existing := current_comparison(run_dirs, out_dir, rank_by=rank_by, varied=varied))
        is not None
    ):
        if log:
            log(f"comparison in {out_dir} is up to date")
        return existing
    table = comparison_table(run_dirs, varied=varied)
    rows, columns = table.rows, table.columns
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = _result(table, metric)
    notes = result.notes

    figures: list[tuple[str, str]] = []  # (stem, caption)
    fig = loss_bars(
        rows, title=f"{title} · test metrics that mean the same for every run", rank_by=rank_by
    )
    result.files["losses"] = save_figure(fig, out / "comparison_losses.png")
    figures.append(
        ("comparison_losses", "Test metrics of every run, the same definitions for all.")
    )
    groups, curve_notes = loss_curve_groups(rows)
    notes += curve_notes
    for group in groups:  # the PNG for comparison.md; the page shows the interactive one
        curve = overlay_loss_curves(group.histories, title=_curve_title(title, group))
        result.files[group.stem.removeprefix("comparison_")] = save_figure(
            curve, out / f"{group.stem}.png"
        )
        figures.append((group.stem, group.caption))
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

    best = best_values(rows, columns)
    md = [
        f"# {title}\n",
        markdown_text(rows, columns, best),
        "\n" + _ranking_line(result.ranking) + "\n",
    ]
    if notes:
        md.append("\nNotes:\n\n" + "".join(f"- {n}\n" for n in notes))
    md.append("\n" + "".join(f"![{cap}]({stem}.png)\n\n" for stem, cap in figures))
    result.files["csv"] = out / "comparison.csv"
    atomic_write_text(result.files["csv"], csv_text(rows, columns))
    result.files["md"] = out / "comparison.md"
    atomic_write_text(result.files["md"], "\n".join(md))
    result.files["html"] = render_comparison(
        out,
        rows=rows,
        columns=columns,
        cells=display_rows(rows, columns, best),
        notes=notes,
        figures=figures,
        title=title,
        ranking=result.ranking,
        interactive=interactive_loss_curves(groups, title=title),
    )
    if log:
        for note in notes:
            log(f"note: {note}")
        log(f"comparison of {len(rows)} runs written to {out}")
    return result
