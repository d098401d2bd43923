"""``aelab tune``: search hyper-parameters with Optuna (TPE, median pruning); every trial is a
run directory, the study a SQLite file in the output folder. Re-running the same command
resumes the search; running it twice at once shares the study between two workers."""

from __future__ import annotations

import argparse

from aelab.cli.options import (
    TRACK,
    add_out_option,
    add_source_options,
    add_training_options,
    config_values,
    log,
)
from aelab.cli.sweep import tracked_study

HELP = "search hyper-parameters with Optuna: TPE sampling, median pruning, resumable"
EPILOG = """examples:
  aelab tune --preset r3-fashion-sparse --search model.latent_dim=int:8:64:log \\
      --search train.lr=float:1e-4:1e-2:log --trials 30 --epochs 10 --out runs/tune-sparse
  aelab tune --preset r3-fashion-sparse --search model.sparsity.kind=categorical:none,l1,topk \\
      --set model.sparsity.k=8 --objective reconstruction.ssim --direction maximize \\
      --trials 12 --out runs/tune-kind
  aelab tune --config search.toml --trials 50 --timeout 3600 --track mlflow --out runs/tune
  aelab compare runs/tune-sparse --out runs/tune-sparse/comparison

search.toml is a run config with a [search] table, e.g.
  [search]
  "model.latent_dim" = {type = "int", low = 8, high = 64, log = true}
  "train.lr" = {type = "float", low = 1e-4, high = 1e-2, log = true}
  "model.sparsity.kind" = {type = "categorical", choices = ["none", "l1", "topk"]}

OUT gets trial-0000/ ... (run directories, train.log each), study.db, tune.toml,
workers/ (a lock per live worker), best.toml (aelab train --config OUT/best.toml),
trials.csv and the plots optimization_history.png, intermediate_values.png and
param_importances.png.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(
        parser,
        member="trial",
        required=True,
        config_help="a run config TOML (with an optional [search] table)",
    )
    parser.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="KEY=TYPE:...",
        help="a searched key: KEY=int:LOW:HIGH[:log], KEY=float:LOW:HIGH[:log] or "
        "KEY=categorical:A,B,C (repeatable; adds to or replaces the [search] table)",
    )
    parser.add_argument(
        "--objective",
        default="val_loss",
        help="the metric to optimise: a key of `aelab metrics` (test_mse, test_ssim, ...) or "
        "its metrics.json path (default val_loss: the best validation loss)",
    )
    parser.add_argument(
        "--direction",
        choices=("minimize", "maximize"),
        help="default: the objective's direction in `aelab metrics`",
    )
    parser.add_argument("--trials", type=int, default=20, help="finished trials wanted (20)")
    parser.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    parser.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (0)")
    parser.add_argument("--storage", help="an SQLAlchemy URL (default sqlite:///OUT/study.db)")
    parser.add_argument("--study-name", default="aelab-tune", help="the study in the storage")
    parser.add_argument(
        "--startup-trials", type=int, default=5, help="trials finished before pruning starts (5)"
    )
    parser.add_argument(
        "--warmup-epochs", type=int, default=0, help="epochs of a trial never pruned (0)"
    )
    parser.add_argument("--no-prune", action="store_true", help="train every trial to the end")
    parser.add_argument(
        "--no-eval",
        action="store_true",
        help="train the trials only (no test metrics, figures, report); objective val_loss",
    )
    add_training_options(parser, "trial", extra=(TRACK,))
    add_out_option(parser, "output folder: study, trials, best.toml")


def run(args: argparse.Namespace) -> int:
    from aelab.presets import load_preset
    from aelab.studies.search_space import load_tune_file, parse_search
    from aelab.studies.tune import TuneConfig, require_optuna, run_tune

    optuna = require_optuna()
    if args.preset:
        base, space = load_preset(args.preset), []
    else:
        base, space = load_tune_file(args.config)
    base = base.with_values(config_values(args))
    space = list({p.key: p for p in [*space, *map(parse_search, args.search)]}.values())
    settings = TuneConfig(
        objective=args.objective,
        direction=args.direction,
        trials=args.trials,
        timeout=args.timeout,
        seed=args.sampler_seed,
        storage=args.storage,
        study_name=args.study_name,
        prune=not args.no_prune,
        startup_trials=args.startup_trials,
        warmup_epochs=args.warmup_epochs,
        evaluate=not args.no_eval,
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says it all
    params = {
        "base": args.preset or args.config,
        "objective": args.objective,
        "trials": args.trials,
    }
    params |= {f"search.{p.key}": p.to_table() for p in space}
    with tracked_study(args, "tune", params):
        result = run_tune(base, space, args.out, settings, quiet=args.quiet, log=log.info)
    if "best" in result.files:
        log.info(f"best: {result.files['best']}")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
