"""``aelab train``: train a preset or a config file into a run directory, then evaluate it."""

from __future__ import annotations

import argparse
from pathlib import Path

from aelab.cli.options import log, out_dir

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

# --flag -> (section, field); applied before the --set overrides.
NAMED_FLAGS = {
    "dataset": ("data", "dataset"),
    "data_dir": ("data", "data_dir"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "seed": ("train", "seed"),
    "device": ("train", "device"),
    "precision": ("train", "precision"),
    "figures": ("train", "figures"),
}


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """``--set`` and the named flags of :data:`NAMED_FLAGS` (but --precision and --figures): every
    command that builds a RunConfig from a preset or a config file shares them."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dotted config override, e.g. model.latent_dim=16 (repeatable)",
    )
    parser.add_argument(
        "--dataset", help="data.dataset: mnist, fashion-mnist, cifar10, npz:PATH, ..."
    )
    parser.add_argument("--data-dir", help="data.data_dir: where dataset files are found")
    parser.add_argument("--epochs", type=int, help="train.epochs")
    parser.add_argument("--batch-size", type=int, help="train.batch_size")
    parser.add_argument("--lr", type=float, help="train.lr (learning rate)")
    parser.add_argument("--seed", type=int, help="train.seed (init, shuffling, noise, splits)")
    parser.add_argument("--device", help="train.device: auto, cpu, cuda, cuda:N")


def add_track_argument(parser: argparse.ArgumentParser) -> None:
    """``--track NAME[=TARGET]`` (repeatable): sets train.track."""
    parser.add_argument(
        "--track",
        action="append",
        metavar="NAME[=URI]",
        help="log to an experiment tracker: tensorboard (RUN_DIR/tb) or mlflow[=URI] "
        "(default sqlite:///<runs folder>/mlflow.db); repeatable, sets train.track",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="NAME", help="a named preset (see `aelab presets`)")
    source.add_argument("--config", metavar="FILE", help="a run config TOML file")
    source.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint (its own config)",
    )
    add_override_arguments(parser)
    add_track_argument(parser)
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="train.precision")
    parser.add_argument(
        "--out", type=out_dir, metavar="RUN_DIR", help="run directory (default runs/<name>-<time>)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a run already in the output directory"
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    add_figures_argument(parser, default="all")


def add_figures_argument(parser: argparse.ArgumentParser, *, default: str) -> None:
    """``--figures all|basic|none`` (``aelab.viz.FIGURE_SETS``), shared with evaluate."""
    from aelab.viz import FIGURE_SETS

    parser.add_argument(
        "--figures",
        choices=tuple(FIGURE_SETS),
        help="train.figures: which figures the evaluation draws: all, basic (reconstructions "
        f"and loss curves, a fraction of the time) or none (default: {default})",
    )


def resolve_config(args: argparse.Namespace):
    """The RunConfig from --preset/--config/--resume, named flags, then --set overrides."""
    from aelab.config import RunConfig
    from aelab.errors import ConfigError

    if args.resume:
        path = Path(args.resume) / "config.toml"
        if not path.exists():
            from aelab.errors import CheckpointError

            raise CheckpointError(f"cannot resume {args.resume}: it holds no run (no config.toml).")
        cfg = RunConfig.load(path)
    elif args.preset:
        from aelab.presets import load_preset

        cfg = load_preset(args.preset)
    elif args.config:
        cfg = RunConfig.load(args.config)
    else:
        raise ConfigError(
            "nothing to train: pass --preset NAME, --config FILE or --resume RUN_DIR."
        )
    data = cfg.to_dict()
    for flag, (section, key) in NAMED_FLAGS.items():
        value = getattr(args, flag, None)  # a command may offer only some of the flags
        if value is not None:
            data[section][key] = value
    if getattr(args, "track", None):
        data["train"]["track"] = list(dict.fromkeys(args.track))
    cfg = RunConfig.from_dict(data)
    cfg = cfg.override(args.overrides) if args.overrides else cfg
    if cfg.train.track:
        from aelab.training.trackers import check_track

        check_track(cfg.train.track)
    return cfg


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
