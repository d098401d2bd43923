"""``aelab evaluate RUN``: test metrics, PCA baseline, figures and report of a trained run."""

from __future__ import annotations

import argparse

from aelab.cli.options import FIGURES, add_run_options, run_device

HELP = "evaluate a trained run: test metrics, PCA baseline, figures and report.html"
EPILOG = """examples:
  aelab evaluate runs/r1-fashion-sparse
  aelab evaluate runs/r1-fashion-sparse --tsne
  aelab evaluate runs/r1-fashion-sparse --checkpoint last --device cuda
  aelab evaluate runs/r1-fashion-sparse --figures basic   # metrics, two figures, report
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)
    parser.add_argument(
        "--tsne", action="store_true", help="also draw a t-SNE map of the test codes (slower)"
    )
    FIGURES.add_to(parser, "the run's train.figures")


def run(args: argparse.Namespace) -> int:
    from aelab.evaluation.evaluate import evaluate_run

    evaluate_run(
        args.run,
        tsne=args.tsne,
        device=run_device(args),
        quiet=args.quiet,
        checkpoint=args.checkpoint,
        figures=args.figures,
    )
    return 0
