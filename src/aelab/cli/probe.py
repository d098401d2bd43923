"""``aelab probe RUN``: linear, k-NN and k-means probes of a run's codes vs PCA and pixels."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_json_option, log, print_json

HELP = "probe a run's codes: logistic regression, 5-NN, k-means vs PCA and raw pixels"
EPILOG = """examples:
  aelab probe runs/r1
  aelab probe runs/r1 --train-limit 10000        # fit the probes on 10,000 train codes
  aelab probe runs/r1 --no-write --device cuda

Probes are fitted on the train split and scored on the test split: logistic-regression
accuracy, 5-nearest-neighbour accuracy, k-means (k = number of classes) NMI and ARI.
The same probes run on PCA at the code's size and on the raw pixels. The result is the
"downstream" section of the run's metrics.json (and its report).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="the run directory a training wrote")
    parser.add_argument("--dataset", help="probe on this dataset instead of the run's")
    parser.add_argument(
        "--train-limit",
        type=int,
        default=0,
        metavar="N",
        help="fit the probes on the first N training images (default 0: all)",
    )
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave metrics.json alone"
    )
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from aelab.reuse.probe import format_table, probe_run

    results = probe_run(
        args.run,
        dataset=args.dataset,
        checkpoint=args.checkpoint,
        device=args.device,
        train_limit=args.train_limit,
        write=not args.no_write,
        progress=not args.quiet,
    )
    if args.json:
        print_json(results)
    else:
        print(format_table(results))
    if not args.no_write:
        log.info(f"wrote the 'downstream' section of {args.run}/metrics.json")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
