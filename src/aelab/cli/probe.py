"""``aelab probe RUN``: linear, k-NN and k-means probes of a run's codes vs PCA and pixels."""

from __future__ import annotations

import argparse

from aelab.cli.options import (
    add_json_option,
    add_no_write_option,
    add_run_options,
    log,
    print_json,
    run_device,
)

HELP = "probe a run's codes: logistic regression, 5-NN, k-means vs PCA and raw pixels"
EPILOG = """examples:
  aelab probe runs/r1
  aelab probe runs/r1 --train-limit 10000        # fit the probes on 10,000 train codes
  aelab probe runs/r1 --no-write --device cuda
  aelab probe runs/r1 --no-cache                 # compute the PCA and pixel scores again

Probes are fitted on the train split and scored on the test split: logistic-regression
accuracy, 5-nearest-neighbour accuracy, k-means (k = number of classes) NMI and ARI.
Logistic regression is lbfgs with at most 100 iterations for every representation. The
same probes run on PCA at the code's size and on the raw pixels; their scores are cached
per dataset and code size (~/.cache/aelab/baselines), so after the first probe of a
dataset only the codes are probed. The result is the "downstream" section of the run's
metrics.json (and its report).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser, dataset="probe")
    parser.add_argument(
        "--train-limit",
        type=int,
        default=0,
        metavar="N",
        help="fit the probes on the first N training images (default 0: all)",
    )
    add_no_write_option(parser)
    add_json_option(parser)
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compute the PCA and pixel baselines again instead of reading or writing the cache",
    )


def run(args: argparse.Namespace) -> int:
    from aelab.reuse.probe import format_table, probe_run

    results = probe_run(
        args.run,
        dataset=args.dataset,
        checkpoint=args.checkpoint,
        device=run_device(args),
        train_limit=args.train_limit,
        write=not args.no_write,
        progress=not args.quiet,
        cache=not args.no_cache,
    )
    if args.json:
        print_json(results)
    else:
        print(format_table(results))
    if not args.no_write:
        log.info(f"wrote the 'downstream' section of {args.run}/metrics.json")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
