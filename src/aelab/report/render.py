"""Render ``report.html`` from what a run directory holds; the report computes nothing.

The page is self-contained: figures are embedded as base64 PNG, the CSS is inline and
nothing is fetched from the network, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jinja2

from aelab.config import load_toml
from aelab.errors import CheckpointError
from aelab.metrics import baselines, code, reconstruction
from aelab.report.tables import format_number
from aelab.rundir import CONFIG, atomic_write_text, read_metrics, run_lock
from aelab.viz import FIGURES

REPORT = "report.html"
KNOWN_SECTIONS = ("run", "reconstruction", "code", "pca", "downstream")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aelab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["tojson_compact"] = lambda v: json.dumps(v, separators=(", ", ": "))
    return env


def _definitions() -> dict[str, str]:

    return {**reconstruction.DEFINITIONS, **code.DEFINITIONS, **baselines.DEFINITIONS}


def _figures(run_dir: Path) -> list[dict[str, str]]:
    """Every ``figures/*.png``: known figures in ``FIGURES`` order, then any others."""
    folder = run_dir / "figures"
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    order = {stem: i for i, stem in enumerate(FIGURES)}
    paths.sort(key=lambda p: (order.get(p.stem, len(order)), p.stem))
    return [
        {
            "name": p.stem,
            "caption": FIGURES.get(p.stem, p.stem.replace("_", " ")),
            "data": base64.b64encode(p.read_bytes()).decode("ascii"),
        }
        for p in paths
        if not p.name.startswith(".")
    ]


def run_name(run_dir: str | Path, metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """The name a run goes by everywhere (report title, figure titles): the name training
    recorded in metrics.json, else the config's name or preset, else the folder's name."""
    run_dir = Path(run_dir)
    return str(
        metrics.get("run", {}).get("name")
        or config.get("name")
        or config.get("preset")
        or run_dir.resolve().name
    )


def render_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from its config, metrics.json and figures; return it."""

    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG
    metrics = read_metrics(run_dir)
    if not config_path.exists() and not metrics:
        raise CheckpointError(
            f"{run_dir} holds no run (no {CONFIG}, no metrics.json); "
            "pass the directory a training run wrote, e.g. runs/r1-fashion-sparse."
        )
    config_text = config_path.read_text(encoding="utf-8") if config_path.exists() else None
    config = load_toml(config_path) if config_text is not None else {}
    name = run_name(run_dir, metrics, config)
    template = _environment().get_template("report.html.j2")
    html = template.render(
        title=f"aelab report: {name}",
        name=name,
        config_text=config_text,
        run=metrics.get("run", {}),
        reconstruction=metrics.get("reconstruction"),
        code=metrics.get("code"),
        pca=metrics.get("pca"),
        downstream=metrics.get("downstream"),
        other_sections={k: v for k, v in metrics.items() if k not in KNOWN_SECTIONS},
        definitions=_definitions(),
        figures=_figures(run_dir),
    )
    path = run_dir / REPORT
    with run_lock(run_dir, "writing the report of"):
        atomic_write_text(path, html)
    return path
