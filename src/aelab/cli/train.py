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
    from aelab.rundir import check_claim, default_run_dir
    from aelab.training import train
    from aelab.training.distributed import context_from_env

    cfg = resolve_config(args)
    main_rank = context_from_env().is_main
    show = main_rank and not args.quiet
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        from aelab.errors import ConfigError

        raise ConfigError("--resume RUN_DIR continues in RUN_DIR; leave out --out.")
    run_dir = Path(args.resume or args.out or default_run_dir(cfg))
    if args.resume:
        note = nothing_to_do(run_dir, cfg, evaluate=not args.no_eval)
        if note is not None:
            log.info(note)
            return 0
    elif main_rank:
        check_claim(run_dir, overwrite=args.overwrite)

    from aelab.data import load_dataset

    # everything is checked (the config above, the data here) before anything is printed
    data = load_dataset(cfg.data, seed=cfg.train.seed, progress=show)
    cfg = with_input_shape(cfg, data.shape)
    if show:
        print(f"# run directory: {run_dir}", flush=True)
        if getattr(args, "verbose", False):  # the full resolved config, as config.toml will hold it
            print(cfg.to_toml(), flush=True)
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


def nothing_to_do(run_dir: Path, cfg, *, evaluate: bool) -> str | None:
    """The one line ``--resume`` answers for a run with nothing left to do (finished its
    ``train.epochs`` or stopped early, and evaluated unless ``evaluate`` is off); None when
    there is work. Nothing in the run is read beyond its config and metrics.json, nothing
    written (not even the config of ``--figures none``)."""
    from aelab.errors import AelabError
    from aelab.rundir import FINISHED, read_metrics, saved_config

    saved_config(run_dir, cfg)  # the same run, or the one-line difference
    try:
        metrics = read_metrics(run_dir)
    except AelabError:
        return None  # no readable summary: the trainer reports what it finds
    run = metrics.get("run") if isinstance(metrics.get("run"), dict) else {}
    status, done = run.get("status"), run.get("epochs_completed")
    if status not in FINISHED or not isinstance(done, int):
        return None
    if status == "completed" and cfg.train.epochs > done:
        return None  # more epochs asked: train on
    if evaluate and "reconstruction" not in metrics:
        return None  # trained with --no-eval: the evaluation is left to do
    if status == "completed":
        more = f"use --epochs {done + 1} or more to train on"
    else:
        more = f"it {status.replace('_', ' ')}; train a new run to train longer"
    return f"nothing to do: {run_dir} finished {done} epochs ({more})"


def evaluate(run_dir: Path, data, *, quiet: bool) -> None:
    """Test metrics, figures and report.html of the finished run (aelab.evaluation.evaluate)."""
    from aelab.evaluation.evaluate import evaluate_run

    evaluate_run(run_dir, data=data, quiet=quiet)


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
