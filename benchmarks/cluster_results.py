"""Collect ``aelab cluster`` results into ``benchmarks/results/cluster.md``.

Each argument is a run directory that ``aelab cluster RUN`` wrote into (``RUN/cluster/``):
its table (``cluster.md``, verbatim), how the run was trained (its config's preset and the
settings that differ from it), the clustering settings and wall times (``cluster.json``),
whether IDEC and N2D (those the run clustered with) beat every k-means baseline in NMI and
accuracy, the command that wrote the scores, and its figures (copied, shrunk to fit 300 KB).

    python benchmarks/cluster_results.py runs/cluster-fashion-dec runs/cluster-mnist-dec --figures 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from aelab.config import RunConfig
from aelab.presets import load_preset
from aelab.report.page import shrink_png
from aelab.rundir import machine, read_metrics

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = ("codes_by_cluster", "codes_by_class", "clusters", "n2d_by_cluster", "n2d_by_class")
BASELINES = ("pixels", "pca", "code")
DEEP = {"idec": "IDEC", "n2d": "N2D"}  # the methods read against the k-means baselines


def changed_settings(cfg: RunConfig) -> list[str]:
    """``section.key=value`` for what the run's config changes from its preset."""
    if not cfg.preset:
        return []
    base, here = load_preset(cfg.preset).to_dict(), cfg.to_dict()
    out = []
    for section, values in here.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if key == "input_shape" or isinstance(value, dict):
                continue  # filled in from the data at training; nested tables: their keys
            if base.get(section, {}).get(key) != value:
                out.append(f"{section}.{key}={value}")
    return out


def cluster_command(run: Path, result: dict) -> str:
    """The ``aelab cluster`` command line that wrote ``result`` (cluster.json): the methods
    and every recorded setting that differs from its default."""
    from aelab.reuse.cluster_config import DEFAULT_CONFIG, DEFAULT_METHODS

    settings = result["settings"]
    methods = settings.get("methods", ", ".join(DEFAULT_METHODS)).split(", ")
    chosen = [m for m in methods if m != "kmeans"] or ["kmeans"]  # kmeans always runs
    args = [] if tuple(methods) == DEFAULT_METHODS else [f"--method {m}" for m in chosen]
    for key, value in settings.items():
        if key not in ("methods", "n_clusters") and getattr(DEFAULT_CONFIG, key, None) != value:
            args.append(f"--{key.replace('_', '-')} {value}")
    defaults = DEFAULT_CONFIG.n2d.recorded() | {"umap_dims": settings["n_clusters"]}
    for key, value in result.get("umap", {}).items():
        if key in defaults and defaults[key] != value:
            args.append(f"--{key.replace('_', '-')} {value}")
    return " ".join(["aelab cluster", str(run), *args])


def section(run: Path, figures: Path | None) -> list[str]:
    result = json.loads((run / "cluster" / "cluster.json").read_text(encoding="utf-8"))
    cfg = RunConfig.load(run / "config.toml")
    epochs = read_metrics(run)["run"]["epochs_completed"]
    scores = result["scores"]
    changes = changed_settings(cfg)
    lines = [
        (run / "cluster" / "cluster.md").read_text(encoding="utf-8").strip(),
        "",
        f"Model: preset `{cfg.preset}`"
        + (f" with {', '.join(f'`{c}`' for c in changes)}" if changes else "")
        + f", {epochs} epochs trained. Wall seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["seconds"].items())
        + ".",
        "",
        f"Command: `{cluster_command(run, result)}`",
        "",
    ]
    for method, name in DEEP.items():
        if method in scores:
            own = scores[method]
            wins = all(own[m] > scores[b][m] for b in BASELINES for m in ("nmi", "acc"))
            lines += [
                f"{name} beats k-means on pixels, PCA and the frozen code in NMI and accuracy: "
                f"**{'yes' if wins else 'no'}** (NMI {own['nmi']:.4f}, accuracy "
                f"{own['acc']:.4f}).",
                "",
            ]
    if figures is None:
        return [*lines, ""]
    figures.mkdir(parents=True, exist_ok=True)
    for stem in FIGURES:
        source = run / "cluster" / f"{stem}.png"
        if source.exists():
            target = figures / f"{run.name}-{stem}.png"
            shrink_png(source, target, 300 * 1024)
            lines.append(f"![{run.name} {stem.replace('_', ' ')}](cluster/{target.name})")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories aelab cluster wrote")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--figures",
        type=int,
        default=0,
        metavar="N",
        help="copy the figures of the first N runs only (default 0: of every run)",
    )
    args = parser.parse_args()
    lines = [
        "# Deep clustering: `aelab cluster` (k-means on pixels, PCA, codes; then IDEC, N2D)",
        "",
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"Machine: {machine()}. Each table is the `cluster.md` that `aelab cluster RUN` wrote, "
        "verbatim; scores on the 10,000 test images.",
        "",
    ]
    shutil.rmtree(args.out_dir / "cluster", ignore_errors=True)  # no stale figures
    for i, run in enumerate(args.runs):
        with_figures = not args.figures or i < args.figures
        lines += section(run, args.out_dir / "cluster" if with_figures else None)
    path = args.out_dir / "cluster.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
