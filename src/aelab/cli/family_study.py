"""``aelab family-study``: R3's five families plus sparse variants, LSTM and VAE under one
protocol (same data, epochs, code size, seed), then their comparison."""

from __future__ import annotations

import argparse

from aelab.cli.options import TRACK, add_training_options, log
from aelab.cli.sweep import (
    add_batch_arguments,
    batch_overrides,
    executor_from_args,
    tracked_study,
)

DATASET = "fashion-mnist"  # the study's dataset unless --dataset names another
HELP = "train every family under one protocol (same data, epochs, code size) and compare"
EPILOG = """examples:
  aelab family-study --dataset fashion-mnist --out runs/family-study
  aelab family-study --dataset mnist --latent-dim 16 --epochs 10 --out runs/family-mnist
  aelab family-study --epochs 2 --set data.train_limit=5000 --only conv --only vae --out runs/quick
  aelab family-study --epochs 2 --only conv --only vae --track tensorboard --out runs/quick-tb
  aelab family-study --epochs 2 --executor ray --cpus-per-run 2 --out runs/family-ray

Members: vanilla, deep, conv, sparse-l1, sparse-kl, sparse-topk, denoising, lstm, vae.
Finished runs are skipped: re-run the same command to finish an interrupted study.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latent-dim", type=int, default=32, help="code size of all (default 32)")
    parser.add_argument(
        "--only", action="append", metavar="MEMBER", help="train only these members (repeatable)"
    )
    add_training_options(
        parser,
        "member",
        extra=(TRACK,),
        defaults={
            "--dataset": DATASET,
            "--epochs": "the presets' 50",
            "--seed": "the presets' 0",
        },
    )
    add_batch_arguments(parser, "member")


def run(args: argparse.Namespace) -> int:
    from aelab.studies.family_study import run_family_study

    dataset = args.dataset or DATASET
    sets = batch_overrides(args)  # every member gets them: --epochs, --lr, ... and --set
    params = {"dataset": dataset, "latent_dim": args.latent_dim, "epochs": args.epochs}
    with tracked_study(args, "family-study", params):
        result = run_family_study(
            args.out,
            dataset=dataset,
            latent_dim=args.latent_dim,
            sets=sets,
            members=args.only,
            rank_by=args.rank_by,
            jobs=args.jobs,
            executor=executor_from_args(args),
            quiet=args.quiet,
        )
    if result.comparison is not None:
        log.info(f"page: {result.comparison.files['html']}")
    return 0
