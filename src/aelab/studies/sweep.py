"""Sweeps: train a grid of configs (the cartesian product of ``--vary`` values), one run
directory per point, then compare them and plot each metric against the varied value.

Resumable: a point whose run finished and was evaluated is skipped; one that finished
training but not evaluation is only evaluated; one with a checkpoint is resumed; anything
else is trained from scratch. ``run_configs`` is the engine, shared with the family study
and ``benchmarks/reproduce.py``: many named configs in, run directories out.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aelab.config import RunConfig, parse_value, with_input_shape
from aelab.errors import AelabError, CheckpointError, ConfigError, TrainingError
from aelab.rundir import (
    CHECKPOINTS,
    CONFIG,
    atomic_write_text,
    check_same_run,
    holds_run,
    is_complete,
    read_metrics,
)

Log = Callable[[str], None]
SWEEP_MANIFEST = "sweep.json"
STATE_FILE = "last.state.pt"
# Metrics drawn against the varied value (keys of aelab.studies.compare.COLUMNS).
SWEEP_METRICS = ("test_mse", "test_bce", "test_ssim", "test_psnr", "l0", "pca_ratio")


def _print(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Vary:
    """One ``--vary key=v1,v2,...``: the dotted config key and its values as typed."""

    key: str
    texts: tuple[str, ...]

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(parse_value(t) for t in self.texts)

    @property
    def short(self) -> str:
        return self.key.rsplit(".", 1)[-1]


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
    """``model.latent_dim=2,4,8`` -> ``Vary("model.latent_dim", ("2", "4", "8"))``."""
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
    return Vary(key, tuple(values))


def grid(varies: Sequence[Vary]) -> list[dict[str, str]]:
    """The cartesian product of the varied values: one ``{key: value text}`` per point."""
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--vary names a key twice ({', '.join(keys)}); give each key once.")
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(v.texts for v in varies))
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or "x"


def point_name(point: dict[str, str]) -> str:
    """The run directory name of a point: ``latent_dim-8`` or ``latent_dim-8_weight-1e-05``;
    keys are shortened to their last part unless two would collide."""
    shorts = [k.rsplit(".", 1)[-1] for k in point]
    use_short = len(set(shorts)) == len(shorts)
    return "_".join(
        f"{_slug(s if use_short else k)}-{_slug(v)}"
        for (k, v), s in zip(point.items(), shorts, strict=True)
    )


def point_config(
    base: RunConfig,
    point: dict[str, str],
    *,
    sets: Sequence[str] = (),
    epochs: int | None = None,
    name: str | None = None,
) -> RunConfig:
    """``base`` with ``sets``, then ``epochs``, then the point's values applied."""
    overrides = [*sets]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    overrides += [f"{k}={v}" for k, v in point.items()]
    cfg = base.override(overrides)
    return dataclasses.replace(cfg, name=name or cfg.name)


# --------------------------------------------------------------------------- running many configs


def check_finished_run(run_dir: Path, cfg: RunConfig) -> RunConfig:
    """The saved config of the finished run in ``run_dir``; a ConfigError when it was made
    from a config other than ``cfg`` (fields that only say how it ran aside, as for resume)."""
    saved = RunConfig.load(run_dir / CONFIG)
    wanted = cfg
    if cfg.model.input_shape is None and saved.model.input_shape is not None:
        wanted = with_input_shape(cfg, saved.model.input_shape)
    try:
        check_same_run(saved, wanted, run_dir)
    except CheckpointError as exc:
        raise ConfigError(f"{exc} (delete that run directory to retrain it)") from None
    if saved.train.epochs > cfg.train.epochs:
        raise ConfigError(
            f"{run_dir} holds a finished run of {saved.train.epochs} epochs, more than the "
            f"{cfg.train.epochs} asked for; use another --out, or delete it to retrain it."
        )
    return saved


def run_state(run_dir: Path, cfg: RunConfig) -> str:
    """What a point needs: ``done``, ``evaluate`` (trained, not evaluated), ``resume``
    (a checkpoint to continue from, or a finished run to extend to more epochs), ``retrain``
    (a broken or partial run to replace) or ``train``. A finished run made from a different
    config is an error, not a skip."""
    if not holds_run(run_dir):
        return "train"
    has_state = (run_dir / CHECKPOINTS / STATE_FILE).exists() and (run_dir / CONFIG).exists()
    if is_complete(run_dir) and (run_dir / CONFIG).exists():
        saved = check_finished_run(run_dir, cfg)
        if not any((run_dir / CHECKPOINTS).glob("*.safetensors")):
            return "retrain"
        if saved.train.epochs < cfg.train.epochs:
            return "resume" if has_state else "retrain"
        return "done" if "reconstruction" in read_metrics(run_dir) else "evaluate"
    return "resume" if has_state else "retrain"


@dataclass
class RunOutcome:
    """The run directories that are finished and evaluated, and the ones that failed
    (name -> reason)."""

    done: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)


class _DataCache:
    """Loads each distinct (data config, seed) once for in-process runs."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.cache: dict[Any, Any] = {}

    def get(self, cfg: RunConfig) -> Any:
        from aelab.data import load_dataset

        key = (cfg.data, cfg.train.seed)
        if key not in self.cache:
            self.cache[key] = load_dataset(cfg.data, seed=cfg.train.seed, progress=not self.quiet)
        return self.cache[key]


def _run_in_process(
    name: str, cfg: RunConfig, run_dir: Path, state: str, cache: _DataCache, quiet: bool, log: Log
) -> None:
    from aelab.evaluation.evaluate import evaluate_run
    from aelab.training import train

    data = cache.get(cfg)
    if state == "resume":
        try:
            train(cfg, run_dir, data=data, resume=True, quiet=quiet)
        except CheckpointError as exc:
            log(f"{name}: cannot resume ({exc}); training it from scratch")
            state = "retrain"
    if state in ("train", "retrain"):
        train(cfg, run_dir, data=data, overwrite=state == "retrain", quiet=quiet)
    evaluate_run(run_dir, data=data, quiet=quiet)


def train_command(config_path: Path, run_dir: Path, state: str, cfg: RunConfig) -> list[str]:
    """The ``aelab train`` command line of one point (it evaluates the run at the end); a
    resumed run keeps its own config, extended to ``cfg``'s epochs."""
    head = [sys.executable, "-m", "aelab", "train"]
    if state == "resume":
        return [*head, "--resume", str(run_dir), "--epochs", str(cfg.train.epochs), "--quiet"]
    cmd = [*head, "--config", str(config_path), "--out", str(run_dir), "--quiet"]
    return [*cmd, "--overwrite"] if state == "retrain" else cmd


def _run_subprocess(name: str, cfg: RunConfig, run_dir: Path, state: str, out: Path) -> str | None:
    """Train one point with ``python -m aelab train``; the output goes to ``out/logs``.
    Returns None on success, else the reason."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    config_path = logs / f"{name}.toml"
    cfg.save(config_path)
    if state == "evaluate":
        cmd = [sys.executable, "-m", "aelab", "evaluate", str(run_dir), "--quiet"]
    else:
        cmd = train_command(config_path, run_dir, state, cfg)
    log_path = logs / f"{name}.log"
    with open(log_path, "w", encoding="utf-8") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        return f"`{' '.join(cmd[1:])}` exited with {proc.returncode}; see {log_path}"
    if not is_complete(run_dir) or "reconstruction" not in read_metrics(run_dir):
        return f"the run did not finish; see {log_path}"
    return None


def run_configs(
    configs: dict[str, RunConfig],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    quiet: bool = False,
    log: Log = _print,
) -> RunOutcome:
    """Train and evaluate each named config into ``out_dir/<name>``, skipping finished ones.

    ``jobs`` > 1 runs that many ``python -m aelab train`` subprocesses at once, each with
    ``cpu_count // jobs`` threads unless the config sets ``train.threads``. A run that fails
    with a user-facing error is recorded in ``failed`` and the others go on."""
    if jobs < 1:
        raise ConfigError(f"jobs={jobs} is invalid: expected an integer >= 1.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    outcome = RunOutcome()
    todo: list[tuple[str, RunConfig, Path, str]] = []
    for name, cfg in configs.items():
        run_dir = out / name
        state = run_state(run_dir, cfg)
        outcome.states[name] = state
        if state == "done":
            log(f"skip {name}: finished and evaluated")
            outcome.done[name] = run_dir
        else:
            todo.append((name, cfg, run_dir, state))

    if jobs == 1:
        cache = _DataCache(quiet)
        for i, (name, cfg, run_dir, state) in enumerate(todo, 1):
            log(f"{state} {name} ({i}/{len(todo)})")
            try:
                _run_in_process(name, cfg, run_dir, state, cache, quiet, log)
                outcome.done[name] = run_dir
            except AelabError as exc:
                log(f"{name} failed: {exc}")
                outcome.failed[name] = str(exc)
        return outcome

    threads = max(1, (os.cpu_count() or 1) // jobs)

    def work(item: tuple[str, RunConfig, Path, str]) -> tuple[str, Path, str | None]:
        name, cfg, run_dir, state = item
        if cfg.train.threads == 0:
            cfg = cfg.override([f"train.threads={threads}"])
        log(f"{state} {name} (subprocess)")
        return name, run_dir, _run_subprocess(name, cfg, run_dir, state, out)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, run_dir, error in pool.map(work, todo):
            if error is None:
                log(f"finished {name}")
                outcome.done[name] = run_dir
            else:
                log(f"{name} failed: {error}")
                outcome.failed[name] = error
    return outcome


def raise_failures(outcome: RunOutcome) -> None:
    """A TrainingError listing the failed runs, if any."""
    if outcome.failed:
        lines = "; ".join(f"{k}: {v}" for k, v in outcome.failed.items())
        raise TrainingError(
            f"{len(outcome.failed)} run(s) failed ({lines}). Fix the cause and re-run the same "
            "command: finished runs are skipped."
        )


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    out_dir: Path
    points: dict[str, dict[str, str]]  # run name -> {key: value text}
    outcome: RunOutcome
    comparison: Any = None  # aelab.studies.compare.Comparison


def sweep_configs(
    base: RunConfig,
    varies: Sequence[Vary],
    *,
    sets: Sequence[str] = (),
    epochs: int | None = None,
) -> tuple[dict[str, RunConfig], dict[str, dict[str, str]]]:
    """The named configs of the sweep and each one's point."""
    stem = base.name or base.preset or base.model.family
    configs, points = {}, {}
    for point in grid(varies):
        name = point_name(point)
        configs[name] = point_config(base, point, sets=sets, epochs=epochs, name=f"{stem}-{name}")
        points[name] = point
    return configs, points


def sweep_figures(
    rows: Sequence[dict[str, Any]],
    points: dict[str, dict[str, str]],
    varies: Sequence[Vary],
    *,
    title: str,
    metrics: Sequence[str] = SWEEP_METRICS,
) -> dict[str, tuple[Any, str]]:
    """One line-plot figure per varied key: every metric against that key's values, one line
    per combination of the other keys. ``rows`` are comparison rows named like the points."""
    from aelab.studies.compare import COLUMN_BY_KEY
    from aelab.viz.comparison import sweep_lines

    by_name = {r["name"]: r for r in rows}
    figures = {}
    for vary in varies:
        others = [v for v in varies if v.key != vary.key]
        series: dict[str, tuple[list[Any], dict[str, list[Any]]]] = {}
        for combo in itertools.product(*(o.texts for o in others)):
            label = ", ".join(f"{o.short}={c}" for o, c in zip(others, combo, strict=True))
            xs, ys = [], {COLUMN_BY_KEY[m].header: [] for m in metrics}
            for text, value in zip(vary.texts, vary.values, strict=True):
                point = {vary.key: text, **{o.key: c for o, c in zip(others, combo, strict=True)}}
                row = by_name.get(point_name({v.key: point[v.key] for v in varies}))
                if row is None:
                    continue
                xs.append(value if isinstance(value, (int, float)) else text)
                for m in metrics:
                    ys[COLUMN_BY_KEY[m].header].append(row.get(m))
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
    sets: Sequence[str] = (),
    epochs: int | None = None,
    jobs: int = 1,
    quiet: bool = False,
    log: Log = _print,
    raise_on_failure: bool = True,
) -> SweepResult:
    """Run (or finish) the sweep into ``out_dir``, then write the comparison and the sweep
    plots there. Runs that failed are left out of the comparison and listed in the error."""
    from aelab.studies.compare import compare_runs, current_comparison, summarize_run

    if not varies:
        raise ConfigError("a sweep needs at least one --vary key=v1,v2,...")
    out = Path(out_dir)
    configs, points = sweep_configs(base, varies, sets=sets, epochs=epochs)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "base": base.preset or base.name or base.model.family,
        "vary": {v.key: list(v.texts) for v in varies},
        "set": list(sets),
        "epochs": epochs,
        "points": points,
    }
    atomic_write_text(out / SWEEP_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log(f"sweep: {len(configs)} runs into {out}")
    outcome = run_configs(configs, out, jobs=jobs, quiet=quiet, log=log)
    result = SweepResult(out, points, outcome)
    finished = [outcome.done[n] for n in configs if n in outcome.done]
    if finished:
        result.comparison = current_comparison(finished, out)
        if result.comparison is not None:
            log(f"comparison in {out} is up to date")
        else:
            rows = [summarize_run(d)[0] for d in finished]
            title = f"Sweep of {manifest['base']}"
            figures = sweep_figures(rows, points, varies, title=title)
            result.comparison = compare_runs(
                finished, out, title=title, extra_figures=figures, log=log
            )
    if raise_on_failure:
        raise_failures(outcome)
    return result
