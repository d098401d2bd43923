"""The ``aelab`` command: one table of subcommands, one module each.

Each subcommand module defines ``HELP`` (one line), ``EPILOG`` (real examples),
``add_arguments(parser)`` and ``run(args) -> int``. Every subcommand also gets the
common options of :data:`COMMON_OPTIONS` (``--quiet``, ``--verbose``, ``--debug``),
accepted before or after the subcommand's name.

One rule for errors (:func:`main`): no AelabError or OSError reaches the user as a
traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from aelab import __version__
from aelab.errors import AelabError, StorageError

# name -> module under aelab.cli
SUBCOMMANDS: dict[str, str] = {
    "anomaly": "anomaly",
    "cluster": "cluster",
    "compare": "compare",
    "data": "data",
    "embed": "embed",
    "evaluate": "evaluate",
    "export": "export",
    "explore": "explore",
    "family-study": "family_study",
    "metrics": "metrics",
    "presets": "presets",
    "probe": "probe",
    "report": "report",
    "serve": "serve",
    "sweep": "sweep",
    "train": "train",
    "tune": "tune",
}

EXIT_RUNTIME = 1  # a runtime failure: I/O (disk full, permission), training failed
EXIT_USAGE = 2  # a user mistake: options, config, data, checkpoint
EXIT_PIPE = 141  # stdout closed early (| head): 128 + SIGPIPE, as a shell reports it
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT

EPILOG = f"""exit codes:
  0    success
  {EXIT_RUNTIME}    runtime failure (I/O error, disk full, permission denied, training failed)
  {EXIT_USAGE}    usage or configuration error (bad option, config, dataset or checkpoint)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_PIPE}  the output pipe was closed early (aelab data list | head -1)

Errors are one line on stderr; --debug shows the traceback. Status lines go to stderr
(--quiet: errors only, --verbose: more); tables and --json output go to stdout.
examples:
  aelab presets
  aelab data list --json
  aelab --quiet train --preset r1-fashion-sparse --epochs 1
"""

TOP_LEVEL = "all_"  # dest prefix of the common options given before the subcommand
# (flags, dest, help) of the options every subcommand accepts.
COMMON_OPTIONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("-q", "--quiet"), "quiet", "print only results and errors (no status or progress)"),
    (("-v", "--verbose"), "verbose", "print more status (debug logging)"),
    (("--debug",), "debug", "show the full traceback of an error"),
)


def _add_common_options(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """``COMMON_OPTIONS`` on ``parser`` and, recursively, on its sub-parsers.

    Sub-parser options default to SUPPRESS so a level that does not see the flag never
    resets what another level set; the top level stores under ``prefix`` + dest and
    :func:`_merge_common` joins the levels. A subcommand must not declare these flags
    itself: argparse then refuses the whole declaration here (which once silently left
    ``aelab cluster`` without ``-q``), so the conflict is an error when the parser is built.
    """
    for flags, dest, help_text in COMMON_OPTIONS:
        default = False if prefix else argparse.SUPPRESS
        parser.add_argument(
            *flags, dest=prefix + dest, action="store_true", default=default, help=help_text
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_common_options(child)


def _merge_common(args: argparse.Namespace) -> None:
    for _, dest, _ in COMMON_OPTIONS:
        setattr(args, dest, bool(getattr(args, dest, False) or getattr(args, TOP_LEVEL + dest)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aelab",
        description="aelab: train, evaluate, compare and reuse autoencoders.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    _add_common_options(parser, prefix=TOP_LEVEL)
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
        _add_common_options(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (which tests and wrappers may replace)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup_logging(*, quiet: bool, verbose: bool) -> None:
    """Status lines of the ``aelab`` loggers on stderr, bare, at the asked level."""
    logger = logging.getLogger("aelab")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def _describe_os_error(exc: OSError) -> str:
    """``PATH: reason`` naming the file, e.g. ``runs/r1/history.csv: No space left on device``."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{exc.filename}{target}: {reason}"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class _NamedStdout:
    """``sys.stdout`` whose write errors name it (``<stdout>: No space left on device``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with self._named():
            return self._stream.write(text)

    def flush(self) -> None:
        with self._named():
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            exc.filename = exc.filename or "<stdout>"
            raise


def run_guarded(name: str, func: Callable[[], int], *, debug: bool) -> int:
    """``func()`` under the CLI's error rule: exit code and one line on stderr."""
    stdout = sys.stdout
    sys.stdout = _NamedStdout(stdout)  # type: ignore[assignment]
    try:
        code = int(func() or 0)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except StorageError as exc:  # a runtime failure (disk full), not a user mistake
        if debug:
            raise
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except AelabError as exc:
        if debug:
            raise
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if exc.filename == "<stdout>":
            _silence_stdout()  # what is still buffered cannot be written either
        if debug:
            raise
        print(f"{name}: error: {_describe_os_error(exc)}", file=sys.stderr)
        return EXIT_RUNTIME
    finally:
        sys.stdout = stdout


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _merge_common(args)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    return run_guarded(f"aelab {args.command}", lambda: args._run(args), debug=args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
