"""The ``aelab`` command: one table of subcommands, one module each.

Each subcommand module defines ``HELP`` (one line), ``EPILOG`` (real examples),
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from aelab import __version__
from aelab.errors import AelabError, StorageError

# name -> module under aelab.cli
SUBCOMMANDS: dict[str, str] = {
    "anomaly": "anomaly",
    "compare": "compare",
    "data": "data",
    "embed": "embed",
    "evaluate": "evaluate",
    "export": "export",
    "family-study": "family_study",
    "presets": "presets",
    "probe": "probe",
    "report": "report",
    "sweep": "sweep",
    "train": "train",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aelab",
        description="aelab: train, evaluate, compare and reuse autoencoders.",
    )
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"aelab.cli.{module_name}")
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            epilog=module.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except StorageError as exc:
        # Runtime failures (disk full): one line, exit code 1, no traceback.
        print(f"aelab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except AelabError as exc:
        # User mistakes: one line, exit code 2, no traceback.
        print(f"aelab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"aelab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
