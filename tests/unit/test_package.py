"""The package surface: version, lazy top-level API, ``python -m aelab``."""

from __future__ import annotations

import importlib
import shlex
import subprocess
import sys

import pytest

import aelab


def test_lazy_attribute_error_is_specific():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aelab.nope  # noqa: B018


def test_python_dash_m_prints_version():
    out = subprocess.run(
        [sys.executable, "-m", "aelab", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"aelab {aelab.__version__}"


def test_cli_without_command_prints_help_and_exits_2():
    out = subprocess.run([sys.executable, "-m", "aelab"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "usage: aelab" in out.stdout


@pytest.mark.parametrize(
    "argv", [["data", "list"], ["presets"], ["presets", "show", "r1-fashion-sparse"], ["--help"]]
)
def test_listing_commands_import_no_heavy_library(argv):
    # `aelab data list`, `aelab presets` (and `show`) answer in well under a second: torch alone
    # takes 1.5 s to import, matplotlib and scikit-learn most of another.
    code = (
        "import sys\n"
        "from aelab.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _examples(epilog: str) -> list[list[str]]:
    """The ``aelab ...`` command lines of an epilog (continuations joined, ``&& ...`` cut)."""
    text = epilog.replace("\\\n", " ")
    lines = [line.split("&&")[0].split("  #")[0] for line in text.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.strip().startswith("aelab ")]


def test_every_help_example_parses():
    from aelab.cli.main import EPILOG, SUBCOMMANDS, build_parser

    parser = build_parser()
    epilogs = [EPILOG] + [
        importlib.import_module(f"aelab.cli.{module}").EPILOG for module in SUBCOMMANDS.values()
    ]
    examples = [argv for epilog in epilogs for argv in _examples(epilog)]
    assert len(examples) > 30
    for argv in examples:
        parser.parse_args(argv)  # argparse exits (a test failure) on a bad example
