"""Sweeps: train a grid of configs (the cartesian product of ``--vary`` values), one run
directory per point, then compare them and plot each metric against the varied value.

Values are parsed once, where they come in (:func:`parse_vary`); each point is a set of
typed values applied to the base config. Resumable: the runs go through
``aelab.studies.runner.run_configs``, which skips finished runs and resumes partial ones.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aelab.config import RunConfig, parse_value
from aelab.errors import ConfigError
from aelab.metrics import catalog
from aelab.metrics.catalog import DEFAULT_RANK
from aelab.rundir import atomic_write_text
from aelab.studies.compare import (
    SWEEP_MANIFEST,
    compare_runs,
    current_comparison,
    summarize_runs,
    summary_text,
)
from aelab.studies.runner import Executor, Log, RunOutcome, echo, raise_failures, run_configs
from aelab.viz.comparison import sweep_lines

# Drawn against the varied value (catalog keys): the reconstruction and PCA scores that
# mean the same for every run, and the code's mean L0 (what a sparsity sweep moves).
SWEEP_METRICS = (
    *(m.key for m in catalog.scores(comparable=True) if m.section in ("reconstruction", "pca")),
    catalog.get("l0").key,
)


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Vary:
    """One varied config key: its typed values and their labels (the values as written,
    which name the run folders: ``1e-5`` stays ``1e-5``, not ``1e-05``)."""

    key: str
    values: tuple[Any, ...]
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.labels:
            object.__setattr__(self, "labels", tuple(str(v) for v in self.values))
        if len(self.labels) != len(self.values):
            raise ConfigError(
                f"vary {self.key}: {len(self.labels)} labels for {len(self.values)} values; "
                "expected one label per value."
            )

    @property
    def short(self) -> str:
        return self.key.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Point:
    """One point of the grid: each varied key's typed value and its label."""

    values: dict[str, Any]
    labels: dict[str, str]

    @property
    def name(self) -> str:
        return point_name(self.labels)


def split_values(text: str) -> list[str]:
    """Split ``2,4,8`` on commas outside brackets, so ``[256],[256,128]`` gives two lists."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_vary(text: str) -> Vary:
    """``model.latent_dim=2,4,8`` -> ``Vary("model.latent_dim", (2, 4, 8))``, each value
    parsed as a TOML literal (bare words stay strings) and labelled as written."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    values = split_values(raw)
    if not sep or not key or "." not in key or not values:
        raise ConfigError(
            f"--vary {text!r} is invalid: expected section.field=v1,v2,..., "
            "e.g. --vary model.latent_dim=2,4,8."
        )
    if len(set(values)) != len(values):
        raise ConfigError(f"--vary {text!r} repeats a value; give each value once.")
    return Vary(key, tuple(parse_value(v) for v in values), tuple(values))


def grid(varies: Sequence[Vary]) -> list[Point]:
    """The cartesian product of the varied values, the last key varying fastest."""
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--vary names a key twice ({', '.join(keys)}); give each key once.")
    points = []
    for combo in itertools.product(*(range(len(v.values)) for v in varies)):
        chosen = list(zip(varies, combo, strict=True))
        values = {v.key: v.values[i] for v, i in chosen}
        points.append(Point(values, {v.key: v.labels[i] for v, i in chosen}))
    return points


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or "x"


def point_name(labels: Mapping[str, str]) -> str:
    """The run directory name of a point: ``latent_dim-8`` or ``latent_dim-8_weight-1e-05``;
    keys are shortened to their last part unless two would collide."""
    shorts = [k.rsplit(".", 1)[-1] for k in labels]
    use_short = len(set(shorts)) == len(shorts)
    return "_".join(
        f"{_slug(s if use_short else k)}-{_slug(v)}"
        for (k, v), s in zip(labels.items(), shorts, strict=True)
    )


def point_config(
    base: RunConfig,
    values: Mapping[str, Any],
    *,
    sets: Mapping[str, Any] | None = None,
    epochs: int | None = None,
    name: str | None = None,
) -> RunConfig:
    """``base`` with ``sets``, then ``epochs``, then the point's ``values`` applied."""
    merged = dict(sets or {})
    if epochs is not None:
        merged["train.epochs"] = epochs
    merged.update(values)
    if name:
        merged["name"] = name
    return base.with_values(merged)


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    out_dir: Path
    points: dict[str, Point]  # run name -> its point
    outcome: RunOutcome
    comparison: Any = None  # aelab.studies.compare.Comparison

    def by_label(self, key: str) -> dict[str, Path]:
        """The finished runs by the label of ``key``'s value (``{"8": run_dir}``)."""
        done = self.outcome.done
        return {p.labels[key]: done[n] for n, p in self.points.items() if n in done}


def sweep_configs(
    base: RunConfig,
    varies: Sequence[Vary],
    *,
    sets: Mapping[str, Any] | None = None,
    epochs: int | None = None,
) -> tuple[dict[str, RunConfig], dict[str, Point]]:
    """The named configs of the sweep and each one's point."""
    stem = base.name or base.preset or base.model.family
    configs, points = {}, {}
    for point in grid(varies):
        name = point.name
        configs[name] = point_config(
            base, point.values, sets=sets, epochs=epochs, name=f"{stem}-{name}"
        )
        points[name] = point
    return configs, points


def sweep_figures(
    rows: Sequence[dict[str, Any]],
    varies: Sequence[Vary],
    *,
    title: str,
    metrics: Sequence[str] = SWEEP_METRICS,
) -> dict[str, tuple[Any, str]]:
    """One line-plot figure per varied key: every metric against that key's values, one line
    per combination of the other keys. ``rows`` are comparison rows named like the points."""

    by_name = {r["name"]: r for r in rows}
    headings = {m: catalog.get(m).label for m in metrics}
    figures = {}
    for vary in varies:
        others = [v for v in varies if v.key != vary.key]
        series: dict[str, tuple[list[Any], dict[str, list[Any]]]] = {}
        for combo in itertools.product(*(o.labels for o in others)):
            fixed = dict(zip((o.key for o in others), combo, strict=True))
            label = ", ".join(f"{o.short}={c}" for o, c in zip(others, combo, strict=True))
            xs, ys = [], {heading: [] for heading in headings.values()}
            for text, value in zip(vary.labels, vary.values, strict=True):
                labels = {**fixed, vary.key: text}
                row = by_name.get(point_name({v.key: labels[v.key] for v in varies}))
                if row is None:
                    continue
                xs.append(value if isinstance(value, (int, float)) else text)
                for m in metrics:
                    ys[headings[m]].append(row.get(m))
            if xs:
                series[label] = (xs, ys)
        fig = sweep_lines(vary.key, series, title=f"{title} · metrics against {vary.key}")
        figures[f"sweep_{_slug(vary.short)}"] = (fig, f"Test metrics against {vary.key}.")
    return figures


def run_sweep(
    base: RunConfig,
    varies: Sequence[Vary],
    out_dir: str | Path,
    *,
    sets: Mapping[str, Any] | None = None,
    epochs: int | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    quiet: bool = False,
    log: Log = echo,
    raise_on_failure: bool = True,
    rank_by: str = DEFAULT_RANK,
) -> SweepResult:
    """Run (or finish) the sweep into ``out_dir``, then write the comparison and the sweep
    plots there and log its table and the best point by ``rank_by`` (a catalog key of a
    score that means the same for every run). Runs that failed are left out of the
    comparison and listed in the error."""

    catalog.rankable(rank_by)  # a wrong --rank-by fails before any training
    if not varies:
        raise ConfigError("a sweep needs at least one --vary key=v1,v2,...")
    out = Path(out_dir)
    configs, points = sweep_configs(base, varies, sets=sets, epochs=epochs)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "base": base.preset or base.name or base.model.family,
        "vary": {v.key: list(v.labels) for v in varies},
        "set": dict(sets or {}),
        "epochs": epochs,
        "points": {name: p.labels for name, p in points.items()},
    }
    atomic_write_text(out / SWEEP_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log(f"sweep: {len(configs)} runs into {out}")
    outcome = run_configs(
        configs, out, jobs=jobs, executor=executor, quiet=quiet, log=log, rank_by=rank_by
    )
    result = SweepResult(out, points, outcome)
    finished = list(outcome.done.values())
    keys = [v.key for v in varies]
    if finished:
        result.comparison = current_comparison(finished, out, rank_by=rank_by, varied=keys)
        if result.comparison is not None:
            log(f"comparison in {out} is up to date")
        else:
            rows, _ = summarize_runs(finished, varied=keys)
            title = f"Sweep of {manifest['base']}"
            figures = sweep_figures(rows, varies, title=title)
            result.comparison = compare_runs(
                finished,
                out,
                title=title,
                extra_figures=figures,
                log=log,
                rank_by=rank_by,
                varied=keys,
            )
        log(summary_text(result.comparison))
    if raise_on_failure:
        raise_failures(outcome)
    return result
