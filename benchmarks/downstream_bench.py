"""Downstream benchmark on real Fashion-MNIST: are the learned codes useful?

1. Probes (``aelab.metrics.downstream``): for each model (run directories given on the
   command line, and/or presets trained here), logistic-regression accuracy, 5-NN accuracy
   and k-means NMI/ARI of its codes, fitted on the 60,000 training images and scored on the
   10,000 test images; the same probes on PCA at each model's code size and on the raw
   pixels. Reference (the reference systems' protocol, docs/reference-systems.md, measured here): PCA-32 scores 81.5%
   logistic regression, 85.2% 5-NN and 0.515 k-means NMI.
2. One-class anomaly detection (``aelab.reuse.anomaly``): for each of the 10 classes, a model
   trained only on that class's training images scores every test image; AUROC and AUPRC
   of the reconstruction error, of the code distance (5-NN) and of their combination (the
   two log-scores standardised on held-out normal images and summed), per class and their
   mean; beside them, for the same splits, the baselines of
   ``aelab.metrics.anomaly_baselines`` fitted on the same normal training images (PCA
   reconstruction error at the code's size, a one-class SVM and an Isolation Forest on
   the raw pixels). ``--anomaly-set KEY=VALUE`` adjusts the anomaly presets (e.g. a
   strided conv).

Writes ``benchmarks/results/downstream_bench.{json,md}`` (or ``--out-dir``).

Run (full; hours on CPU, minutes on a GPU):
    .venv/bin/python benchmarks/downstream_bench.py --device cuda
    .venv/bin/python benchmarks/downstream_bench.py runs/family-study/best --presets r1-fashion-sparse
Smoke test (a minute):
    .venv/bin/python benchmarks/downstream_bench.py --presets r1-fashion-sparse --epochs 1 \\
        --limit 2000 --anomaly-classes 0 1 --out-dir /tmp/downstream-smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from aelab.config import DataConfig, RunConfig
from aelab.data import load_dataset
from aelab.data.splits import DatasetSplits
from aelab.metrics.downstream import pca_features, probe
from aelab.presets import load_preset
from aelab.reuse.anomaly import BASELINE_SCORES, SCORES, run_protocol, to_markdown
from aelab.reuse.embed import embed_images
from aelab.reuse.inference import TrainedModel, load
from aelab.rundir import environment, read_metrics
from aelab.training import train

RESULTS = Path(__file__).resolve().parent / "results"
DATASET = "fashion-mnist"
FASHION_PRESETS = (
    "r1-fashion-sparse",
    "r3-fashion-vanilla",
    "r3-fashion-deep",
    "r3-fashion-conv",
    "r3-fashion-sparse",
    "r3-fashion-denoising",
    "r4-fc",
    "r4-cnn",
    "r4-sparse",
    "r4-rnn",
    "r4-vae",
)
REFERENCE_PCA32 = {"logreg_acc": 0.815, "knn_acc": 0.852, "kmeans_nmi": 0.515}
AUROC_TARGET = 0.90


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def limited(cfg: RunConfig, args: argparse.Namespace) -> RunConfig:
    """The preset with the benchmark's epochs, device and train limit applied."""
    data = cfg.data
    if args.limit:
        data = dataclasses.replace(data, train_limit=args.limit)
    train_cfg = cfg.train
    if args.epochs:
        train_cfg = dataclasses.replace(train_cfg, epochs=args.epochs)
    train_cfg = dataclasses.replace(train_cfg, device=args.device)
    return dataclasses.replace(cfg, data=data, train=train_cfg)


def probe_data(args: argparse.Namespace) -> DatasetSplits:
    """All 60,000 training images (or --limit) and the 10,000 test images, no validation."""
    cfg = DataConfig(dataset=DATASET, validation="none", train_limit=args.limit)
    return load_dataset(cfg, download=False, progress=False)


def models(args: argparse.Namespace):
    """(label, TrainedModel, info) for every run directory and every preset."""
    for run_dir in args.runs:
        model = load(run_dir, device=args.device)
        assert model.config is not None
        run = read_metrics(run_dir).get("run", {})
        epochs = run.get("epochs_completed") or model.config.train.epochs
        yield str(run_dir), model, {"source": "run", "run_dir": str(run_dir), "epochs": epochs}
    for name in args.presets:
        cfg = limited(load_preset(name), args)
        log(f"training {name} ({cfg.train.epochs} epochs, device {cfg.train.device})")
        start = time.perf_counter()
        result = train(cfg, None, quiet=not args.verbose)
        info = {
            "source": "preset",
            "epochs": cfg.train.epochs,
            "train_seconds": time.perf_counter() - start,
        }
        yield name, TrainedModel(result.model, result.config, device=args.device), info


def unit(images: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> float32 (N, C*H*W) in [0, 1]: what PCA and the pixel probes see."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def probe_section(args: argparse.Namespace) -> dict[str, Any]:
    data = probe_data(args)
    train_x, test_x = data.train.images, data.test.images
    train_y, test_y = data.train.labels, data.test.labels
    rows: list[dict[str, Any]] = []
    log(f"probing raw pixels ({len(train_x)} train / {len(test_x)} test)")
    rows.append(
        {
            "name": "pixels",
            "kind": "pixels",
            "dim": 784,
            **probe(unit(train_x), train_y, unit(test_x), test_y),
        }
    )
    pca_done: set[int] = set()
    for label, model, info in models(args):
        log(f"probing {label}")
        codes_train = embed_images(model, train_x)
        codes_test = embed_images(model, test_x)
        dim = model.latent_dim
        scores = probe(codes_train, train_y, codes_test, test_y)
        describe = getattr(model.model, "describe", lambda: "")()
        rows.append(
            {"name": label, "kind": "autoencoder", "dim": dim, "model": describe, **info, **scores}
        )
        if dim not in pca_done:
            pca_done.add(dim)
            log(f"probing PCA-{dim}")
            pca_train, pca_test = pca_features(unit(train_x), unit(test_x), dim)
            rows.append(
                {
                    "name": f"PCA-{dim}",
                    "kind": "pca",
                    "dim": dim,
                    **probe(pca_train, train_y, pca_test, test_y),
                }
            )
    if 32 not in pca_done:
        pca_train, pca_test = pca_features(unit(train_x), unit(test_x), 32)
        rows.append(
            {
                "name": "PCA-32",
                "kind": "pca",
                "dim": 32,
                **probe(pca_train, train_y, pca_test, test_y),
            }
        )
    pca32 = next(r for r in rows if r["name"] == "PCA-32")
    for row in rows:
        if row["kind"] == "autoencoder":
            row["beats_pca32"] = all(
                row[p] > pca32[p] for p in ("logreg_acc", "knn_acc", "kmeans_nmi")
            )
    return {"n_train": len(train_x), "n_test": len(test_x), "rows": rows}


def anomaly_section(args: argparse.Namespace, preset: str) -> dict[str, Any]:
    cfg = limited(load_preset(preset).override(args.anomaly_set), args)
    if args.anomaly_epochs:
        epochs = args.anomaly_epochs
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))
    data = load_dataset(cfg.data, seed=cfg.train.seed, download=False, progress=False)
    log(f"one-class protocol: {preset}, {cfg.train.epochs} epochs per class")
    results, payload = run_protocol(
        cfg, data, args.anomaly_classes or None, device=args.device, quiet=False
    )
    payload["table"] = to_markdown(results)
    payload["overrides"] = list(args.anomaly_set)
    payload["command"] = " ".join(["python", *sys.argv])
    return payload


def anomaly_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two one-class sections the same experiment."""
    return (
        entry.get("dataset"),
        entry["preset"],
        tuple(entry.get("overrides") or ()),
        entry["epochs"],
    )


def carry_over(report: dict[str, Any], previous: Path) -> None:
    """What this invocation did not run keeps its results from the previous report in the
    same folder, with the command that produced them and when it finished, so parts can run
    at different times (or side by side) into one report: the probes section when skipped,
    and every one-class section (a dataset and model) that this invocation did not redo."""
    if not previous.exists():
        return
    old = json.loads(previous.read_text())
    if "probes" not in report and "probes" in old:
        report["probes"] = old["probes"]
        report.setdefault("carried_over", {})["probes"] = {
            "command": old.get("carried_over", {}).get("probes", {}).get("command")
            or old["command"],
            "finished_at": old.get("finished_at"),
        }
    done = {anomaly_key(a) for a in report.get("anomaly", [])}
    kept = [
        {"command": old["command"], "finished_at": old.get("finished_at"), **a}
        for a in old.get("anomaly", [])
        if anomaly_key(a) not in done
    ]
    if kept:
        report["anomaly"] = kept + report.get("anomaly", [])


def model_label(entry: dict[str, Any]) -> str:
    changed = entry.get("overrides") or []
    return entry["preset"] + (f" + {', '.join(changed)}" if changed else "")


def best_score(entry: dict[str, Any]) -> tuple[float, str]:
    """The autoencoder's best mean AUROC in a one-class section, and its score's name."""
    return max((entry["mean"][f"{score}_auroc"], score) for score in SCORES)


def anomaly_summary(entries: list[dict[str, Any]], heading: str = "##") -> list[str]:
    """Per dataset: the best autoencoder score of every model run against the baselines
    (means over the same ten one-class splits)."""
    lines = [
        f"{heading} One-class summary: the autoencoder against the pixel baselines",
        "",
        "Mean AUROC over the ten one-class problems, each model's best score beside the "
        "baselines fitted on the same normal images (the baselines do not depend on the model).",
        "",
        "| dataset | model | epochs | best score | AUROC | pca | ocsvm | iforest | beats all three |",
        "|:---|:---|---:|:---|---:|---:|---:|---:|:---:|",
    ]
    for entry in sorted(entries, key=lambda e: (e.get("dataset") or "", model_label(e))):
        best, name = best_score(entry)
        base = [entry["mean"].get(f"{b}_auroc") for b in BASELINE_SCORES]
        beats = "yes" if all(v is not None and best > v for v in base) else "no"
        cells = " | ".join("" if v is None else f"{v:.4f}" for v in base)
        lines.append(
            f"| {entry.get('dataset', '?')} | {model_label(entry)} | {entry['epochs']} | {name} "
            f"| {best:.4f} | {cells} | {beats} |"
        )
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        "# Downstream benchmark: probes on Fashion-MNIST; one-class anomaly detection on "
        + (", ".join(sorted({a.get("dataset", "?") for a in report.get("anomaly", [])})) or "none"),
        "",
        f"Command: `{report['command']}`  ",
        *(
            f"The {key} section is carried over from an earlier run (`{c['command']}`, "
            f"finished {c['finished_at']}).  "
            for key, c in report.get("carried_over", {}).items()
        ),
        f"Machine: {report['environment']['machine']}; torch {report['environment']['torch_version']}; "
        f"git {report['environment']['git_commit'] or 'unknown'}; {report['finished_at']}",
        "",
        f"Settings: epochs {s['epochs'] or 'preset default'}, train limit {s['limit'] or 'none (all)'}, "
        f"device {s['device']}.",
        "",
    ]
    if "probes" in report:
        p = report["probes"]
        lines += [
            f"## Probes (fitted on {p['n_train']:,} train codes, scored on {p['n_test']:,} test codes)",
            "",
            "Logistic regression (lbfgs, C=1, at most 100 iterations), 5-NN (Euclidean), k-means "
            "(k=10, 10 restarts, on "
            "the test codes); features as they are (not standardised). Reference for PCA-32: "
            f"{REFERENCE_PCA32['logreg_acc']:.1%} / {REFERENCE_PCA32['knn_acc']:.1%} / "
            f"{REFERENCE_PCA32['kmeans_nmi']:.3f} NMI.",
            "",
            "| representation | dim | epochs | logreg acc | 5-NN acc | k-means NMI | k-means ARI "
            "| beats PCA-32 on all 3 |",
            "|:---|---:|---:|---:|---:|---:|---:|:---:|",
        ]
        for r in p["rows"]:
            beats = {True: "yes", False: "no"}.get(r.get("beats_pca32"), "")
            lines.append(
                f"| {r['name']} | {r['dim']} | {r.get('epochs', '')} | {r['logreg_acc']:.4f} | "
                f"{r['knn_acc']:.4f} | "
                f"{r['kmeans_nmi']:.4f} | {r['kmeans_ari']:.4f} | {beats} |"
            )
        winners = [r["name"] for r in p["rows"] if r.get("beats_pca32")]
        lines += [
            "",
            f"Target (beat PCA-32 on all three probes with at least one model): "
            f"{'met by ' + ', '.join(winners) if winners else 'not met'}.",
            "",
        ]
    return "\n".join(lines + anomaly_lines(report))


def origin(entry: dict[str, Any], command: str, always: bool) -> list[str]:
    """The line naming the command that computed a one-class section: always, or only when
    it was carried over from another invocation than ``command``."""
    own = entry.get("command") or command
    if always:
        return [f"Command: `{own}`", ""]
    if own == command:
        return []
    finished = f" (finished {entry['finished_at']})" if entry.get("finished_at") else ""
    return [f"Carried over from `{own}`{finished}.", ""]


def anomaly_lines(report: dict[str, Any], heading: str = "##", commands: bool = False) -> list[str]:
    """The one-class sections of a report (Markdown lines, headings at ``heading``): per
    model and dataset the per-class table, then the summary against the baselines. Each
    section names the command that computed it when carried over from an earlier report, or
    always with ``commands``."""
    lines: list[str] = []
    for a in report.get("anomaly", []):
        best, best_name = best_score(a)
        baselines = {
            b: a["mean"][f"{b}_auroc"] for b in BASELINE_SCORES if f"{b}_auroc" in a["mean"]
        }
        changed = a.get("overrides") or []
        lines += [
            f"{heading} One-class anomaly detection: {a.get('dataset', '?')} ({a['preset']}, "
            f"{a['epochs']} epochs per class)",
            "",
            *(
                [f"Preset overrides: {', '.join(f'`{c}`' for c in changed)}.", ""]
                if changed
                else []
            ),
            *origin(a, report["command"], commands),
            "Trained only on the normal class's training images; every test image scored; "
            "anomalies = the other 9 classes. Scores: per-image MSE (recon), mean distance "
            f"to the {a['k']} nearest normal training codes (code), and their combination "
            "(combined: log of each score, standardised by its mean and standard deviation on "
            "the normal class's held-out validation images, summed; nothing about the "
            f"anomalies is used). Baselines ({a.get('baselines', 'not run')}): AUROC columns "
            "pca, ocsvm, iforest.",
            "",
            a["table"],
            f"Target (mean one-class AUROC >= {AUROC_TARGET}): "
            f"{'met' if best >= AUROC_TARGET else 'not met'} (best mean {best:.4f}, the "
            f"{best_name} score).",
            "",
        ]
        if baselines:
            strongest, value = max(baselines.items(), key=lambda kv: kv[1])
            beaten = [b for b, v in baselines.items() if best > v]
            losses = [
                str(row["class"])
                for row in a.get("classes", [])
                if row[f"{best_name}_auroc"] <= max(row.get(f"{b}_auroc", 0) for b in baselines)
            ]
            lines += [
                f"Against the pixel baselines (mean AUROC): the autoencoder's best score "
                f"({best_name}, {best:.4f}) beats {len(beaten)} of {len(baselines)} "
                f"({', '.join(f'{b} {v:.4f}' for b, v in baselines.items())}); the strongest "
                f"baseline is {strongest} ({value:.4f}). Classes where a baseline scores at least "
                f"as high as the {best_name} score: {', '.join(losses) or 'none'}.",
                "",
            ]
    if report.get("anomaly"):
        lines += anomaly_summary(report["anomaly"], heading)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run directories to probe")
    parser.add_argument(
        "--presets",
        nargs="*",
        default=None,
        help=f"presets to train (default: {' '.join(FASHION_PRESETS)}; none when runs are given)",
    )
    parser.add_argument("--epochs", type=int, default=0, help="override every preset's epochs")
    parser.add_argument(
        "--limit", type=int, default=0, help="use the first N training images (0: all)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--anomaly-presets",
        nargs="+",
        default=["r3-fashion-conv"],
        help="presets for the one-class protocol (default: r3-fashion-conv, a 32-d conv code)",
    )
    parser.add_argument(
        "--anomaly-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override in the anomaly presets' configs, e.g. model.loss=mse (repeatable)",
    )
    parser.add_argument(
        "--anomaly-epochs",
        type=int,
        default=0,
        help="epochs per class (default: --epochs or the preset's)",
    )
    parser.add_argument(
        "--anomaly-classes", nargs="*", type=int, default=None, help="default: all 10"
    )
    parser.add_argument("--skip-probes", action="store_true")
    parser.add_argument("--skip-anomaly", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--verbose", action="store_true", help="per-epoch training lines")
    args = parser.parse_args()
    if args.presets is None:
        args.presets = [] if args.runs else list(FASHION_PRESETS)
    if not Path("/usr/share/datasets/fashion-mnist").exists():
        log(
            "note: Fashion-MNIST not in /usr/share/datasets/fashion-mnist; using aelab's data resolution"
        )

    start = time.perf_counter()
    report: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "settings": {
            "epochs": args.epochs,
            "limit": args.limit,
            "device": args.device,
            "presets": args.presets,
            "runs": [str(r) for r in args.runs],
            "anomaly_presets": args.anomaly_presets,
            "anomaly_overrides": args.anomaly_set,
        },
        "environment": {**environment(), "python": platform.python_version()},
        "reference_pca32": REFERENCE_PCA32,
    }
    if not args.skip_probes:
        report["probes"] = probe_section(args)
    if not args.skip_anomaly:
        report["anomaly"] = [anomaly_section(args, preset) for preset in args.anomaly_presets]
    carry_over(report, args.out_dir / "downstream_bench.json")
    report["wall_time_s"] = round(time.perf_counter() - start, 1)
    report["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "downstream_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "downstream_bench.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
