"""``aelab compare RUN... --out DIR``: one table, loss bars, a reconstruction grid and an
HTML page for many runs."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_json_option, add_out_option, add_rank_by_option, log, print_json

HELP = "compare runs: table (CSV, Markdown), loss bars, reconstruction grid, comparison.html"
EPILOG = """examples:
  aelab compare runs/r4-fc runs/r4-cnn runs/r4-sparse runs/r4-rnn runs/r4-vae --out runs/r4-comparison
  aelab compare runs/code-size/latent_dim-* --out runs/code-comparison --images 8
  aelab compare runs/tune-sparse --out runs/tune-sparse/comparison   # a folder of runs
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs",
        metavar="RUN",
        nargs="+",
        help="run directories made by aelab train, or folders of them (sweep, tune)",
    )
    add_out_option(parser, "folder for comparison.{csv,md,html} and figures")
    parser.add_argument(
        "--images", type=int, default=10, help="test images in the reconstruction grid (default 10)"
    )
    parser.add_argument("--title", default="Comparison", help="title of the page and figures")
    add_rank_by_option(parser)
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from aelab.studies.compare import compare_runs, expand_run_dirs

    if args.images < 1:
        args._parser.error(f"--images {args.images} is invalid: expected an integer >= 1")
    result = compare_runs(
        expand_run_dirs(args.runs),
        args.out,
        n_images=args.images,
        title=args.title,
        rank_by=args.rank_by,
        log=log.info,
    )
    if args.json:
        files = {k: str(v) for k, v in result.files.items()}
        print_json({"runs": result.rows, "notes": result.notes, "files": files})
    else:
        print(result.files["md"].read_text(encoding="utf-8").split("\n\n![")[0])
    log.info(f"page: {result.files['html']}")
    return 0
