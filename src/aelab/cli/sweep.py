"""``aelab sweep``: train a grid of configs (the cartesian product of --vary values), then
compare them and plot each metric against the varied values. Re-running finishes only the
missing runs."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from aelab.cli.options import (
    TRACK,
    add_out_option,
    add_rank_by_option,
    add_source_options,
    add_training_options,
    base_config,
    config_values,
    log,
)

HELP = "train a grid of configs (cartesian product of --vary values) and compare them"
EPILOG = """examples:
  aelab sweep --preset r3-fashion-vanilla --vary model.latent_dim=2,4,8,16,32,64 --out runs/code-size
  aelab sweep --preset r3-fashion-sparse --vary model.sparsity.weight=1e-6,1e-5,1e-4 \\
      --vary model.latent_dim=32,64 --epochs 10 --jobs 2 --out runs/l1-sweep
  aelab sweep --preset r1-fashion-sparse --vary model.latent_dim=16,32 --executor ray --out runs/ray-sweep
  aelab sweep --preset r1-fashion-sparse --vary train.seed=0,1,2,3 --executor ray \
      --ray-address ray://head:10001 --gpus-per-run 1 --out /shared/runs/seeds
  aelab sweep --config my.toml --vary model.hidden=[256],[512,256] --set data.train_limit=5000 --out runs/depth
  aelab sweep --preset r3-fashion-vanilla --vary train.lr=1e-3,3e-3 --track mlflow --out runs/lr

Finished runs are skipped: re-run the same command to finish an interrupted sweep.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(parser, member="point", required=True)
    parser.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="a config key and its values; repeat for a grid (cartesian product)",
    )
    add_training_options(parser, "point", extra=(TRACK,))
    add_batch_arguments(parser, "point")


def add_batch_arguments(parser: argparse.ArgumentParser, member: str) -> None:
    """The options every many-runs command shares (sweep, family-study) beside the
    training options: --jobs, --out, --rank-by and the executor's."""
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once as subprocesses (default 1)"
    )
    add_out_option(parser, f"output folder: one run directory per {member}")
    add_rank_by_option(parser)
    add_executor_arguments(parser)


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the runs happen: --executor local|ray and Ray's options."""
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: this machine (--jobs); ray: one Ray task per run (default local)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="join this Ray cluster (ray://HEAD:10001, HEAD:6379 or auto) instead of starting "
        "a local one; --out and the data must be on storage every node sees",
    )
    parser.add_argument(
        "--cpus-per-run", type=float, default=1.0, help="CPUs Ray reserves per run (default 1)"
    )
    parser.add_argument(
        "--gpus-per-run", type=float, default=0.0, help="GPUs Ray reserves per run (default 0)"
    )


def executor_from_args(args: argparse.Namespace) -> Any:
    """The executor the flags ask for: None (the local default of --jobs) or a RayExecutor;
    a ConfigError for flags that do not fit the chosen executor."""
    from aelab.errors import ConfigError

    if args.executor == "local":
        for flag, given in (
            ("--ray-address", args.ray_address is not None),
            ("--cpus-per-run", args.cpus_per_run != 1.0),
            ("--gpus-per-run", args.gpus_per_run != 0.0),
        ):
            if given:
                raise ConfigError(f"{flag} needs --executor ray")
        return None
    if args.jobs != 1:
        raise ConfigError("--jobs is for --executor local; Ray runs as many as fit")
    if args.cpus_per_run <= 0:
        raise ConfigError(f"--cpus-per-run {args.cpus_per_run:g} is invalid: expected a number > 0")
    if args.gpus_per_run < 0:
        raise ConfigError(
            f"--gpus-per-run {args.gpus_per_run:g} is invalid: expected a number >= 0"
        )
    from aelab.studies.ray_executor import RayExecutor

    return RayExecutor(args.ray_address, args.cpus_per_run, args.gpus_per_run)


def batch_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The dotted values every run gets (:func:`aelab.cli.options.config_values`), after
    checking --jobs."""
    if args.jobs < 1:
        args._parser.error(f"--jobs {args.jobs} is invalid: expected an integer >= 1")
    return dict(config_values(args))


@contextlib.contextmanager
def tracked_study(args: argparse.Namespace, kind: str, params: dict[str, Any]) -> Iterator[None]:
    """With --track: the study's parent run (MLflow), its runs nested under it."""
    if not args.track:
        yield
        return
    from aelab.training.trackers import study_run

    with study_run(args.out, args.track, kind=kind, params=params):
        yield


def run(args: argparse.Namespace) -> int:
    from aelab.studies.sweep import parse_vary, run_sweep

    sets = batch_overrides(args)
    executor = executor_from_args(args)
    base = base_config(args)
    varies = [parse_vary(v) for v in args.vary]
    params = {
        "base": args.preset or args.config,
        **{f"vary.{v.key}": ",".join(v.labels) for v in varies},
    }
    with tracked_study(args, "sweep", params):
        result = run_sweep(
            base,
            varies,
            args.out,
            sets=sets,
            rank_by=args.rank_by,
            jobs=args.jobs,
            executor=executor,
            quiet=args.quiet,
        )
    if result.comparison is not None:
        log.info(f"page: {result.comparison.files['html']}")
    return 0
