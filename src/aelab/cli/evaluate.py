"""``aelab evaluate RUN``: test metrics, PCA baseline, figures and report of a trained run."""

from __future__ import annotations

import argparse

HELP = "evaluate a trained run: test metrics, PCA baseline, figures and report.html"
EPILOG = """examples:
  aelab evaluate runs/r1-fashion-sparse
  aelab evaluate runs/r1-fashion-sparse --tsne
  aelab evaluate runs/r1-fashion-sparse --checkpoint last --device cuda
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="the run directory a training wrote")
    parser.add_argument(
        "--checkpoint",
        choices=("best", "last"),
        default="best",
        help="which weights to evaluate (default: best, or last when the run kept no best)",
    )
    parser.add_argument(
        "--tsne", action="store_true", help="also draw a t-SNE map of the test codes (slower)"
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")


def run(args: argparse.Namespace) -> int:
    from aelab.evaluation.evaluate import evaluate_run

    evaluate_run(
        args.run, tsne=args.tsne, device=args.device, quiet=args.quiet, checkpoint=args.checkpoint
    )
    return 0
