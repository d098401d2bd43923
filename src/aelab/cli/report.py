"""``aelab report RUN``: rebuild report.html from what the run directory holds."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_run_options

HELP = "rebuild a run's report.html from its config, metrics.json and figures"
EPILOG = """examples:
  aelab report runs/r1-fashion-sparse
  aelab report runs/r1-fashion-sparse && chromium runs/r1-fashion-sparse/report.html
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser, checkpoint=False, device=False)  # it renders what RUN holds


def run(args: argparse.Namespace) -> int:
    from aelab.report import render_report

    path = render_report(args.run)
    print(path)  # the result, for scripts: chromium "$(aelab report RUN)"
    return 0
