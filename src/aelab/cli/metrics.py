"""``aelab metrics``: the metric catalog, as scikit-learn lists its scorers."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_json_option, print_json

HELP = "list every metric aelab reports: key, where it lives, definition and direction"
EPILOG = """examples:
  aelab metrics                          # every metric, one line each
  aelab metrics --section cluster        # one section of metrics.json
  aelab metrics --rankable               # the metrics --rank-by and --objective may use
  aelab metrics --json                   # the whole catalog for scripts

KEY is the name tables, comparison.csv, --rank-by and tune's --objective use; PATH is where
the number lives in a run's metrics.json (* matches any one name). BEST says which way is
better (max / min; blank for numbers that are not scores); SAME means the metric means the
same for every run compared, whatever its family and loss: only those rank runs.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aelab.metrics.catalog import SECTIONS

    parser.add_argument(
        "--section", choices=tuple(SECTIONS), help="only the metrics of this metrics.json section"
    )
    parser.add_argument(
        "--rankable",
        action="store_true",
        help="only scores that compare across runs (what --rank-by and --objective accept)",
    )
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from aelab.metrics.catalog import select

    chosen = select(args.section, rankable=args.rankable)
    if args.json:
        print_json([m.to_dict() for m in chosen])
        return 0
    best = {"maximize": "max", "minimize": "min", None: ""}
    key_w = max(len(m.key) for m in chosen) + 2
    path_w = max(len(m.path) for m in chosen) + 2
    head = f"{'KEY':<{key_w}}{'PATH':<{path_w}}{'BEST':<6}{'SAME':<6}DEFINITION"
    lines = [
        f"{m.key:<{key_w}}{m.path:<{path_w}}{best[m.direction]:<6}"
        f"{'yes' if m.comparable else '':<6}{m.definition}"
        for m in chosen
    ]
    print("\n".join([head, *lines]))
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
