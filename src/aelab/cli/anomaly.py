"""``aelab anomaly``: the one-class anomaly-detection protocol, per class or for all."""

from __future__ import annotations

import argparse

from aelab.cli.options import (
    add_json_option,
    add_out_option,
    add_source_options,
    add_training_options,
    log,
    print_json,
    resolve_config,
)

HELP = "one-class anomaly detection: train on one class, score every test image"
EPILOG = """examples:
  aelab anomaly --preset r1-fashion-sparse --normal-class 7 --out results/anomaly-7
  aelab anomaly --preset r4-cnn --all-classes --epochs 10 --out results/anomaly-cnn
  aelab anomaly --preset r1-fashion-sparse --normal-class Sneaker --code-score mean --out a
  aelab anomaly --preset r4-fc --dataset mnist --all-classes --save-runs --out a-mnist

For each normal class C the model is trained only on C's training images (in memory,
or into OUT/class-C with --save-runs); every test image is scored by its reconstruction
error, by the distance of its code to the normal training codes, and by their
combination (the two log-scores standardised on held-out normal images and summed), and
the other classes are the anomalies. Baselines fitted on the same normal images score them
too: PCA reconstruction error at the code's size, a one-class SVM (RBF, nu 0.1, on 2,000
of them) and an Isolation Forest (100 trees) on the raw pixels. OUT gets anomaly.csv, anomaly.md, anomaly.json (AUROC and
AUPRC per class and their mean), roc.png, extremes.png (the most and least anomalous test
images of each class) and the page anomaly.html showing them all. With --save-runs each
OUT/class-C/metrics.json gets the class's "anomaly" section and its report.html shows it.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(parser, required=True)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--normal-class",
        action="append",
        metavar="C",
        help="the normal class: a label or a class name (repeatable)",
    )
    which.add_argument("--all-classes", action="store_true", help="every class in turn")
    add_out_option(parser, "output folder")
    add_training_options(parser)
    parser.add_argument(
        "--code-score",
        choices=("knn", "mean"),
        default="knn",
        help="code distance: mean distance to the k nearest normal codes (knn, default) "
        "or distance to the mean normal code",
    )
    parser.add_argument("--k", type=int, default=5, help="neighbours for --code-score knn")
    parser.add_argument(
        "--fpr",
        type=float,
        default=0.05,
        help="target false-positive rate of the detector's threshold, calibrated on held-out "
        "normal images (default 0.05); with --save-runs each run gets detector.json",
    )
    parser.add_argument(
        "--save-runs", action="store_true", help="write a run directory per class under OUT"
    )
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from aelab.data import load_dataset
    from aelab.errors import ConfigError
    from aelab.reuse.anomaly import run_protocol, to_markdown
    from aelab.training.device import resolve_device

    if args.k < 1:
        raise ConfigError(f"--k {args.k} is invalid: expected at least 1 neighbour.")
    if not 0.0 < args.fpr < 1.0:
        raise ConfigError(f"--fpr {args.fpr} is invalid: expected a rate in (0, 1), e.g. 0.05.")
    cfg = resolve_config(args)
    data = load_dataset(cfg.data, seed=cfg.train.seed, progress=not args.quiet)
    device = str(resolve_device(cfg.train.device))
    results, payload = run_protocol(
        cfg,
        data,
        None if args.all_classes else args.normal_class,
        out_dir=args.out,
        save_runs=args.save_runs,
        code_score=args.code_score,
        k=args.k,
        fpr=args.fpr,
        device=device,
        quiet=args.quiet,
    )
    if args.json:
        print_json(payload)
    else:
        print(to_markdown(results), end="")
    log.info(
        f"wrote anomaly.html (with anomaly.csv, .md, .json, roc.png, extremes.png) to {args.out}"
    )
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
