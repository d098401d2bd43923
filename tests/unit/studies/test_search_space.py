"""The search space of ``aelab tune``: flags and ``[search]`` tables to typed parameters,
checked against the config before any trial, applied as typed overrides."""

from __future__ import annotations

import pytest

from aelab.config import RunConfig
from aelab.errors import ConfigError
from aelab.studies.search_space import (
    SearchParam,
    check_space,
    load_tune_file,
    parse_search,
    search_from_table,
    trial_config,
)


def test_search_flags_parse_to_typed_params():
    assert parse_search("model.latent_dim=int:8:64:log") == SearchParam(
        "model.latent_dim", "int", 8, 64, log=True
    )
    assert parse_search("train.lr=float:1e-4:1e-2") == SearchParam("train.lr", "float", 1e-4, 1e-2)
    kind = parse_search("model.sparsity.kind=categorical:none,l1,topk")
    assert kind.choices == ("none", "l1", "topk")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model.latent_dim", "expected KEY=TYPE"),
        ("model.latent_dim=int:8", r"expected KEY=int:LOW:HIGH\[:log\]"),
        ("model.latent_dim=int:a:b", "must be numbers"),
        ("model.latent_dim=int:64:8", "below high"),
        ("train.lr=float:0:1:log", "> 0 with log=true"),
        ("model.latent_dim=uniform:1:2", r"expected one of int, float, categorical"),
        ("latent_dim=int:1:2", "dotted config key"),
    ],
)
def test_bad_search_flags_say_what_is_expected(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_search(text)


def test_search_table_from_toml_and_unknown_fields(tmp_path):
    path = tmp_path / "search.toml"
    path.write_text(
        '[model]\nfamily = "dense"\nlatent_dim = 8\n\n[search]\n'
        '"model.latent_dim" = {type = "int", low = 8, high = 64, log = true}\n'
        '"model.sparsity.kind" = {type = "categorical", choices = ["none", "l1"]}\n'
    )
    base, space = load_tune_file(path)
    assert base.model.latent_dim == 8
    assert [p.key for p in space] == ["model.latent_dim", "model.sparsity.kind"]
    assert space[0] == parse_search("model.latent_dim=int:8:64:log")
    with pytest.raises(ConfigError, match=r"unknown field 'hgh'.*Did you mean 'high'"):
        search_from_table({"train.lr": {"type": "float", "low": 1e-4, "hgh": 1e-2}})


def test_space_is_checked_against_the_config_before_any_trial():
    base = RunConfig()
    with pytest.raises(ConfigError, match="latent_dimm"):
        check_space(base, [parse_search("model.latent_dimm=int:2:8")])
    with pytest.raises(ConfigError, match="optimizer"):
        check_space(base, [parse_search("train.optimizer=categorical:adam,adamm")])


def test_trial_values_apply_as_typed_overrides():
    space = [
        parse_search("model.sparsity.kind=categorical:none,l1"),
        parse_search("train.lr=float:1e-4:1"),
    ]
    cfg = trial_config(RunConfig(), space, {"model.sparsity.kind": "l1", "train.lr": 0.01})
    assert cfg.model.sparsity.kind == "l1" and cfg.train.lr == 0.01
    none = trial_config(RunConfig(), space, {"model.sparsity.kind": "none", "train.lr": 0.01})
    assert none.model.sparsity.kind == "none"  # the string, not "unset the field"
