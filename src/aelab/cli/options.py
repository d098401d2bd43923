"""Options and output shared by the subcommands, each declared once here: the options of
every command that trains (:func:`add_training_options`), of every command that reads a
run (:func:`add_run_options`), ``--rank-by``, ``--json``, checked ``--out`` paths and the
status logger. ``-q``, ``-v`` and ``--debug`` come from ``main.COMMON_OPTIONS``.

A named flag sets one config value: ``--epochs 5`` is the dotted pair ``train.epochs=5``,
handed with the ``--set`` pairs to :func:`aelab.config.set_values` (:func:`config_values`).

Results (tables, ``--json``) go to stdout; status lines go through :data:`log` (stderr,
silenced by ``--quiet``; see ``main.setup_logging``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aelab.metrics.catalog import DEFAULT_RANK

log = logging.getLogger("aelab.cli")


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class ConfigFlag:
    """A flag that sets one config value: ``--epochs 5`` is ``train.epochs=5``. Its value
    stays text; :func:`aelab.config.set_values` parses it with the field's type and the
    config dataclass checks its range."""

    flag: str
    key: str
    help: str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    repeat: bool = False  # repeatable: its values make the field's list

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser, default: str = "the config's") -> None:
        parser.add_argument(
            self.flag,
            dest=self.dest,
            action="append" if self.repeat else "store",
            choices=self.choices,
            metavar=None if self.choices else self.metavar or self.dest.upper(),
            help=f"{self.help} (sets {self.key}; default: {default})",
        )

    def value(self, args: argparse.Namespace) -> Any:
        """What the command line gave (None: not given); a repeated flag's values once each."""
        value = getattr(args, self.dest, None)
        return list(dict.fromkeys(value)) if self.repeat and value else value


def _figure_sets() -> tuple[str, ...]:
    from aelab.viz import FIGURE_SETS

    return tuple(FIGURE_SETS)


FIGURES = ConfigFlag(
    "--figures",
    "train.figures",
    "which figures the evaluation draws: all, basic (reconstructions and loss curves, a "
    "fraction of the time) or none",
    _figure_sets(),
)
PRECISION = ConfigFlag(
    "--precision", "train.precision", "training precision (autocast)", ("fp32", "bf16", "fp16")
)
TRACK = ConfigFlag(
    "--track",
    "train.track",
    "log to an experiment tracker: tensorboard (RUN_DIR/tb) or mlflow[=URI] (default "
    "sqlite:///<runs folder>/mlflow.db); repeatable",
    metavar="NAME[=URI]",
    repeat=True,
)
# The flags of every command that trains (train, sweep, tune, family-study, anomaly).
TRAINING_FLAGS: tuple[ConfigFlag, ...] = (
    ConfigFlag(
        "--dataset", "data.dataset", "mnist, fashion-mnist, cifar10, npz:PATH, ...", metavar="NAME"
    ),
    ConfigFlag("--data-dir", "data.data_dir", "where the dataset files are found", metavar="DIR"),
    ConfigFlag("--epochs", "train.epochs", "training epochs", metavar="N"),
    ConfigFlag("--batch-size", "train.batch_size", "images per training batch", metavar="N"),
    ConfigFlag("--lr", "train.lr", "learning rate"),
    ConfigFlag(
        "--seed",
        "train.seed",
        "seed of the initialisation, shuffling, noise and splits",
        metavar="N",
    ),
    ConfigFlag("--device", "train.device", "auto (CUDA when present, else CPU), cpu, cuda, cuda:N"),
    FIGURES,
)


def add_set_option(parser: argparse.ArgumentParser, member: str = "run") -> None:
    """``--set KEY=VALUE`` (repeatable): any config value by its dotted key."""
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set a config value of every {member} by its dotted key, e.g. "
        "model.latent_dim=16 (repeatable; applied after the named flags)",
    )


def add_training_options(
    parser: argparse.ArgumentParser,
    member: str = "run",
    *,
    defaults: dict[str, str] | None = None,
    extra: tuple[ConfigFlag, ...] = (),
) -> None:
    """The options of every command that trains: the config flags of :data:`TRAINING_FLAGS`
    (and ``extra``) and ``--set``. ``defaults``: a flag's default as its help says it, when a
    command has its own (``{"--dataset": "fashion-mnist"}``)."""
    for option in (*TRAINING_FLAGS, *extra):
        option.add_to(parser, (defaults or {}).get(option.flag, "the config's"))
    add_set_option(parser, member)


def add_source_options(
    parser: argparse.ArgumentParser,
    *,
    member: str = "run",
    required: bool = False,
    resume: bool = False,
    config_help: str = "a run config TOML file",
) -> None:
    """Where the config starts: ``--preset NAME`` or ``--config FILE`` (or ``--resume
    RUN_DIR``), one of them."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument(
        "--preset", metavar="NAME", help=f"the preset every {member} starts from (aelab presets)"
    )
    source.add_argument("--config", metavar="FILE", help=config_help)
    if resume:
        source.add_argument(
            "--resume",
            metavar="RUN_DIR",
            help="continue the run in RUN_DIR from its last checkpoint (its own config)",
        )


def config_values(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The dotted pairs the options ask for, in the order they apply: the named flags that
    were given (``--epochs 5``: ``("train.epochs", "5")``), then ``--set``'s."""
    from aelab.config import parse_assignment

    if getattr(args, "track", None):  # checked before any data loads or run starts
        from aelab.training.trackers import check_track

        check_track(args.track)
    named = [(o.key, o.value(args)) for o in (*TRAINING_FLAGS, PRECISION, TRACK)]
    return [(k, v) for k, v in named if v is not None] + list(map(parse_assignment, args.sets))


def base_config(args: argparse.Namespace) -> Any:
    """The RunConfig that ``--preset``, ``--config`` or ``--resume`` names."""
    from aelab.config import RunConfig
    from aelab.errors import CheckpointError, ConfigError

    if getattr(args, "resume", None):
        path = Path(args.resume) / "config.toml"
        if not path.exists():
            raise CheckpointError(f"cannot resume {args.resume}: it holds no run (no config.toml).")
        return RunConfig.load(path)
    if args.preset:
        from aelab.presets import load_preset

        return load_preset(args.preset)
    if args.config:
        return RunConfig.load(args.config)
    raise ConfigError("nothing to train: pass --preset NAME, --config FILE or --resume RUN_DIR.")


def resolve_config(args: argparse.Namespace) -> Any:
    """The RunConfig of a training command: :func:`base_config` with
    :func:`config_values` set on it (by :func:`aelab.config.set_values`)."""
    from aelab.config import set_values

    cfg = set_values(base_config(args), config_values(args))
    if cfg.train.track:  # a tracker named by --set too, checked before any data loads
        from aelab.training.trackers import check_track

        check_track(cfg.train.track)
    return cfg


# --------------------------------------------------------------------------- runs


CHECKPOINT_HELP = (
    "which weights: best (the epoch of the lowest validation loss, kept when the run "
    "validates; the default) or last (the final epoch's, which --resume continues from); "
    "a run that kept no best uses last"
)
DEVICE_HELP = "where to compute: auto (CUDA when present, else CPU; the default), cpu, cuda, cuda:N"


def add_run_options(
    parser: argparse.ArgumentParser,
    *,
    checkpoint: bool = True,
    device: bool = True,
    dataset: str | None = None,
    detector_checkpoint: bool = False,
) -> None:
    """The options of every command that reads a run: ``RUN``, ``--checkpoint`` and
    ``--device``; ``dataset`` (a verb, "probe"): ``--dataset`` to use instead of the run's.
    ``detector_checkpoint``: ``--checkpoint`` defaults to the one the run's detector.json was
    calibrated on (serving and exporting a detector's scores)."""
    parser.add_argument("run", metavar="RUN", help="the run directory a training wrote")
    if checkpoint:
        parser.add_argument(
            "--checkpoint",
            choices=("best", "last"),
            default=None if detector_checkpoint else "best",
            help=CHECKPOINT_HELP
            + (
                "; with a detector.json, the checkpoint it was calibrated on (its threshold "
                "holds for those weights only)"
                if detector_checkpoint
                else ""
            ),
        )
    if device:
        parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    if dataset:
        parser.add_argument(
            "--dataset",
            metavar="NAME",
            help=f"{dataset} this dataset instead of the run's (same image shape)",
        )


def run_device(args: argparse.Namespace) -> str:
    """``--device`` resolved (``auto``: CUDA when present, else CPU)."""
    from aelab.training.device import resolve_device

    return str(resolve_device(args.device))


def add_no_write_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-write", action="store_true", help="print only; write nothing into RUN"
    )


# --------------------------------------------------------------------------- --rank-by


def add_rank_by_option(parser: argparse.ArgumentParser) -> None:
    """``--rank-by KEY`` of the commands that rank runs (compare, sweep, family-study)."""
    parser.add_argument(
        "--rank-by",
        default=DEFAULT_RANK,
        metavar="KEY",
        help="rank runs by this metric (see `aelab metrics`); a metric that means the same "
        "for every run (default %(default)s)",
    )


# --------------------------------------------------------------------------- --json


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout (for scripts)"
    )


def print_json(payload: Any) -> None:
    """``payload`` as indented JSON on stdout; NumPy scalars and paths become plain values."""
    json.dump(payload, sys.stdout, indent=2, default=_plain)
    sys.stdout.write("\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, (Path, os.PathLike)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------- --out


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (``.`` at worst)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _check_writable_folder(folder: Path, text: str, what: str) -> None:
    """``folder`` (the one ``text`` will be written in) or its nearest existing ancestor
    must be a folder this user can write to."""
    anchor = _first_existing(folder)
    if not anchor.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text} is under {anchor}, which is a file, not a folder; choose a {what} whose "
            "parents are folders."
        )
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"{text}: the folder {anchor} is not writable by this user; choose a {what} "
            "somewhere you can write, or fix its permissions."
        )


def out_dir(text: str) -> str:
    """argparse ``type=`` of an output folder: not a file, not under a file, writable."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text} is a file, expected a folder (new or existing); choose another path or "
            "remove the file."
        )
    _check_writable_folder(path, text, "folder")
    return text


def out_file(example: str) -> Callable[[str], str]:
    """argparse ``type=`` of an output file (``example``: a file name for the message):
    not a folder, not under a file, in a writable folder."""

    def check(text: str) -> str:
        path = Path(text).expanduser()
        if path.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text} is a folder, expected a file path; add a file name, e.g. "
                f"{Path(text) / example}."
            )
        _check_writable_folder(path.parent, text, "file")
        return text

    return check


def add_out_option(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    file: str | None = None,
    required: bool = True,
    metavar: str = "DIR",
) -> None:
    """``--out``: a folder, or a file when ``file`` names an example (``codes.npz``), checked
    writable before anything runs (:func:`out_dir`, :func:`out_file`)."""
    parser.add_argument(
        "--out",
        required=required,
        type=out_file(file) if file else out_dir,
        metavar="FILE" if file else metavar,
        help=help,
    )


__all__ = [
    "PRECISION",
    "TRACK",
    "TRAINING_FLAGS",
    "ConfigFlag",
    "add_json_option",
    "add_no_write_option",
    "add_out_option",
    "add_rank_by_option",
    "add_run_options",
    "add_set_option",
    "add_source_options",
    "add_training_options",
    "base_config",
    "config_values",
    "log",
    "out_dir",
    "out_file",
    "print_json",
    "resolve_config",
    "run_device",
]
