"""``aelab train``: train a preset or a config file into a run directory, then evaluate it."""

from __future__ import annotations

import argparse
from pathlib import Path

from aelab.cli.options import (
    PRECISION,
    TRACK,
    add_out_option,
    add_source_options,
    add_training_options,
    log,
    resolve_config,
)

HELP = "train an autoencoder from a preset or a config file into a run directory"
EPILOG = """examples:
  aelab train --preset r1-fashion-sparse
  aelab train --preset r1-fashion-sparse --epochs 5 --out runs/r1-quick
  aelab train --preset r4-cnn --set model.bottleneck=true --set model.latent_dim=16 \\
      --set train.schedule=cosine                       # R4's CNN with a dense 16-d code
  aelab train --config my-run.toml --device cuda --precision bf16
  aelab train --resume runs/r1-quick                    # continue after a crash or Ctrl-C
  aelab train --preset r1-fashion-sparse --track tensorboard --track mlflow  # runs/mlflow.db
  aelab train --preset r1-fashion-sparse --out runs/r1 --overwrite --quiet --no-eval
  aelab train --preset r1-fashion-sparse --epochs 1 --set data.train_limit=1000 --set data.val_limit=1000 --figures basic
  torchrun --nproc_per_node=2 -m aelab train --preset r4-fc   # data-parallel (DDP)

The run directory holds config.toml, history.csv, metrics.json, checkpoints/ and, after
the evaluation, figures/ and report.html. data.train_limit, data.val_limit and
data.test_limit keep the first N images of each split (the validation images of a full
run, so a quick run validates on a subset of the same images).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(parser, resume=True)
    add_training_options(parser, extra=(PRECISION, TRACK))
    add_out_option(
        parser, "run directory (default runs/<name>-<time>)", required=False, metavar="RUN_DIR"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a run already in the output directory"
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")


def run(args: argparse.Namespace) -> int:
    from aelab.config import with_input_shape
    from aelab.rundir import default_run_dir
    from aelab.training import train
    from aelab.training.distributed import context_from_env

    cfg = resolve_config(args)
    main_rank = context_from_env().is_main
    show = main_rank and not args.quiet
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        from aelab.errors import ConfigError

        raise ConfigError("--resume RUN_DIR continues in RUN_DIR; leave out --out.")
    run_dir = Path(args.resume or args.out or default_run_dir(cfg))

    from aelab.data import load_dataset

    data = load_dataset(cfg.data, seed=cfg.train.seed, progress=show)
    cfg = with_input_shape(cfg, data.shape)
    if show:
        print(f"# run directory: {run_dir}\n{cfg.to_toml()}", flush=True)
    result = train(
        cfg,
        run_dir,
        data=data,
        resume=bool(args.resume),
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    if not main_rank:
        return 0
    if not args.no_eval:
        evaluate(result.run_dir, data, quiet=args.quiet)
    elif cfg.train.track:
        from aelab.training.trackers import log_finished_run

        log_finished_run(result.run_dir, cfg.train.track)
    log.info(f"run: {result.run_dir}")
    return 0


def evaluate(run_dir: Path, data, *, quiet: bool) -> None:
    """Test metrics, figures and report.html of the finished run (aelab.evaluation.evaluate)."""
    from aelab.evaluation.evaluate import evaluate_run

    evaluate_run(run_dir, data=data, quiet=quiet)


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
