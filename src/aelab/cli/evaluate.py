"""``aelab evaluate RUN``: test metrics, PCA baseline, figures and report of a trained run."""

from __future__ import annotations

import argparse

from aelab.cli.options import FIGURES, add_run_options, run_device

HELP = "evaluate a trained run: test metrics, PCA baseline, figures and report.html"
# aelab.evaluation.code_map.PROJECTIONS, named here so that --help imports no torch (a
# test keeps the two equal)
MAP_PROJECTIONS = ("pca", "umap", "tsne")
EPILOG = """examples:
  aelab evaluate runs/r1-fashion-sparse
  aelab evaluate runs/r1-fashion-sparse --tsne
  aelab evaluate runs/r1-fashion-sparse --map-projection tsne   # the report's code map
  aelab evaluate runs/r1-fashion-sparse --checkpoint last --device cuda
  aelab evaluate runs/r1-fashion-sparse --figures basic   # metrics, two figures, report
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)
    parser.add_argument(
        "--tsne", action="store_true", help="also draw a t-SNE map of the test codes (slower)"
    )
    parser.add_argument(
        "--map-projection",
        choices=MAP_PROJECTIONS,
        default="pca",
        help="the 2-D projection of the report's interactive code map: pca (default), umap "
        "(pip install 'aelab[umap]') or tsne; drawn with --figures all",
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
        map_projection=args.map_projection,
    )
    return 0
