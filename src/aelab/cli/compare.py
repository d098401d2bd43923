"""``aelab compare RUN... --out DIR``: one table, loss bars, a reconstruction grid and an
HTML page for many runs."""

from __future__ import annotations

import argparse

HELP = "compare runs: table (CSV, Markdown), loss bars, reconstruction grid, comparison.html"
EPILOG = """examples:
  aelab compare runs/r4-fc runs/r4-cnn runs/r4-sparse runs/r4-rnn runs/r4-vae --out runs/r4-comparison
  aelab compare runs/code-size/latent_dim-* --out runs/code-comparison --images 8
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", metavar="RUN", nargs="+", help="run directories made by aelab train"
    )
    parser.add_argument(
        "--out", required=True, help="folder for comparison.{csv,md,html} and figures"
    )
    parser.add_argument(
        "--images", type=int, default=10, help="test images in the reconstruction grid (default 10)"
    )
    parser.add_argument("--title", default="Comparison", help="title of the page and figures")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    from aelab.studies.compare import compare_runs

    if args.images < 1:
        args._parser.error(f"--images {args.images} is invalid: expected an integer >= 1")
    result = compare_runs(
        args.runs,
        args.out,
        n_images=args.images,
        title=args.title,
        log=None if args.quiet else print,
    )
    if not args.quiet:
        print(result.files["md"].read_text(encoding="utf-8").split("\n\n![")[0])
        print(f"page: {result.files['html']}")
    return 0
