"""aelab.cli.options: the shared options, declared once, parsed the same by every command.

Parse-only: each command's arguments go through ``build_parser()`` and the functions its
``run`` uses to build its configs (no training)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from aelab.cli.main import (
    COMMON_OPTIONS,
    SUBCOMMANDS,
    _add_common_options,
    _merge_common,
    build_parser,
)
from aelab.cli.options import TRAINING_FLAGS, resolve_config
from aelab.config import RunConfig

PRESET = "r3-fashion-vanilla"


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def _required(command: str, out: Path) -> list[str]:
    """The least a training command needs besides the options under test."""
    return {
        "train": ["--preset", PRESET],
        "anomaly": ["--preset", PRESET, "--all-classes", "--out", str(out)],
        "tune": ["--preset", PRESET, "--out", str(out)],
        "sweep": ["--preset", PRESET, "--vary", "train.weight_decay=0,0.1", "--out", str(out)],
        "family-study": ["--only", "vanilla", "--only", "conv", "--out", str(out)],
    }[command]


def _configs(command: str, args: argparse.Namespace) -> list[RunConfig]:
    """The configs the command's ``run`` would train, built as it builds them."""
    if command == "sweep":
        from aelab.cli.options import base_config
        from aelab.cli.sweep import batch_overrides
        from aelab.studies.sweep import parse_vary, sweep_configs

        varies = [parse_vary(v) for v in args.vary]
        return list(
            sweep_configs(base_config(args), varies, sets=batch_overrides(args))[0].values()
        )
    if command == "family-study":
        from aelab.cli.family_study import DATASET
        from aelab.cli.sweep import batch_overrides
        from aelab.studies.family_study import study_configs

        sets = batch_overrides(args)
        configs = study_configs(
            args.dataset or DATASET, latent_dim=args.latent_dim, sets=sets, members=args.only
        )
        return list(configs.values())
    return [resolve_config(args)]


# flag, its value on the command line, the config field it sets, the typed value there
SHARED = [
    ("--dataset", "mnist", "data.dataset", "mnist"),
    ("--data-dir", "/srv/datasets", "data.data_dir", "/srv/datasets"),
    ("--epochs", "3", "train.epochs", 3),
    ("--batch-size", "48", "train.batch_size", 48),
    ("--lr", "3e-4", "train.lr", 3e-4),
    ("--seed", "11", "train.seed", 11),
    ("--device", "cpu", "train.device", "cpu"),
    ("--figures", "basic", "train.figures", "basic"),
    ("--set", "model.latent_dim=5", "model.latent_dim", 5),
]
TRAINING = ["train", "sweep", "tune", "family-study", "anomaly"]


def _field(cfg: RunConfig, key: str):
    value = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def test_the_shared_table_covers_every_named_flag() -> None:
    assert [o.flag for o in TRAINING_FLAGS] == [f for f, *_ in SHARED if f != "--set"]


@pytest.mark.parametrize("command", TRAINING)
@pytest.mark.parametrize(("flag", "text", "key", "value"), SHARED, ids=[s[0] for s in SHARED])
def test_every_training_command_takes_each_shared_flag_into_its_configs(
    parser, command, flag, text, key, value, tmp_path
) -> None:
    args = parser.parse_args([command, *_required(command, tmp_path / "out"), flag, text])
    configs = _configs(command, args)
    assert configs
    for cfg in configs:
        got = _field(cfg, key)
        assert got == value and type(got) is type(value), (command, flag, got)


@pytest.mark.parametrize("command", TRAINING)
def test_named_flags_apply_before_set(parser, command, tmp_path) -> None:
    argv = [command, *_required(command, tmp_path / "out")]
    args = parser.parse_args([*argv, "--set", "train.epochs=7", "--epochs", "2"])
    assert {c.train.epochs for c in _configs(command, args)} == {7}


@pytest.mark.parametrize("command", TRAINING)
def test_a_bad_value_is_the_config_dataclass_error(parser, command, tmp_path) -> None:
    from aelab.errors import ConfigError

    args = parser.parse_args([command, *_required(command, tmp_path / "out"), "--epochs", "0"])
    with pytest.raises(ConfigError, match=r"train\.epochs=0 is invalid: expected an integer >= 1"):
        _configs(command, args)


RUN_READERS = {
    "evaluate": [],
    "probe": [],
    "embed": ["--out", "codes.npz"],
    "cluster": [],
}


@pytest.mark.parametrize("command", RUN_READERS)
def test_run_readers_default_to_auto_and_document_checkpoint(parser, command, tmp_path) -> None:
    args = parser.parse_args([command, "runs/r1", *RUN_READERS[command]])
    assert (args.run, args.device, args.checkpoint) == ("runs/r1", "auto", "best")
    sub = _subparsers(parser)[command]
    (checkpoint,) = [a for a in sub._actions if "--checkpoint" in a.option_strings]
    assert (
        "best" in checkpoint.help and "last" in checkpoint.help and "validation" in checkpoint.help
    )


def test_auto_resolves_through_resolve_device(parser, monkeypatch) -> None:
    import torch

    from aelab.cli.options import run_device

    args = parser.parse_args(["probe", "runs/r1"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run_device(args) == "cpu"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_subcommand_has_every_spelling_of_the_common_options(parser, command) -> None:
    sub = _subparsers(parser)[command]
    spellings = {s for a in sub._actions for s in a.option_strings}
    for flags, _, _ in COMMON_OPTIONS:
        assert set(flags) <= spellings, (command, flags)


def test_cluster_takes_q(parser) -> None:
    args = parser.parse_args(["cluster", "runs/r1", "-q"])
    _merge_common(args)
    assert args.quiet and not args.verbose


def test_a_subcommand_declaring_a_common_option_is_refused_when_built() -> None:
    """The bug class behind ``aelab cluster RUN -q``: a subcommand that declared --quiet
    itself silently lost ``-q`` (the conflict was suppressed)."""
    sub = argparse.ArgumentParser()
    sub.add_argument("--quiet", action="store_true")
    with pytest.raises(argparse.ArgumentError, match="--quiet"):
        _add_common_options(sub)


@pytest.mark.parametrize("command", ["compare", "sweep", "family-study"])
def test_ranking_commands_take_rank_by(parser, command, tmp_path) -> None:
    argv = {
        "compare": ["compare", "runs/a", "--out", str(tmp_path)],
        "sweep": ["sweep", *_required("sweep", tmp_path)],
        "family-study": ["family-study", "--out", str(tmp_path)],
    }[command]
    assert parser.parse_args(argv).rank_by == "test_mse"
    assert parser.parse_args([*argv, "--rank-by", "test_ssim"]).rank_by == "test_ssim"
