"""RunConfig: TOML round trip, validation messages, dotted overrides."""

from __future__ import annotations

import pytest

from aelab.config import DataConfig, RunConfig, SparsityConfig, TrainConfig, parse_value
from aelab.errors import ConfigError


def test_toml_round_trip_is_exact(tmp_path):
    cfg = RunConfig(
        name="x",
        data=DataConfig(dataset="mnist", val_size=500),
        train=TrainConfig(epochs=3, lr=2e-3, seed=7),
    )
    path = tmp_path / "config.toml"
    cfg.save(path)
    assert RunConfig.load(path) == cfg
    assert not list(tmp_path.glob("*.tmp")), "atomic save left its temp file"


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"unknown key 'epoch'.*Did you mean 'epochs'"):
        RunConfig.from_dict({"train": {"epoch": 3}})


def test_invalid_value_names_field_value_and_range():
    with pytest.raises(
        ConfigError, match=r"train\.batch_size=0 is invalid: expected an integer >= 1"
    ):
        RunConfig.from_dict({"train": {"batch_size": 0}})
    with pytest.raises(ConfigError, match=r"kind='tok'.*expected one of none, l1, kl, topk"):
        SparsityConfig(kind="tok")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16", 16),
        ("1e-3", 1e-3),
        ("[256, 128]", [256, 128]),
        ("256,128", [256, 128]),
        ("true", True),
        ("relu", "relu"),
        ("none", None),
    ],
)
def test_parse_value(text, value):
    assert parse_value(text) == value


def test_overrides_apply_with_types_and_reject_bad_paths():
    cfg = RunConfig().override(["train.epochs=5", "train.lr=0.01", "data.dataset=mnist"])
    assert (cfg.train.epochs, cfg.train.lr, cfg.data.dataset) == (5, 0.01, "mnist")
    with pytest.raises(ConfigError, match=r"expected section\.field=value"):
        RunConfig().override(["epochs"])
    with pytest.raises(ConfigError, match=r"unknown key 'epochz'"):
        RunConfig().override(["train.epochz=3"])
    with pytest.raises(ConfigError, match="expected an integer"):
        RunConfig().override(["train.epochs=many"])


def test_test_split_as_validation_forbids_model_selection():
    with pytest.raises(ConfigError, match="never used for model selection"):
        RunConfig(data=DataConfig(validation="test"), train=TrainConfig(early_stopping=3))


def test_a_config_that_is_not_utf8_or_is_a_folder_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(
        ConfigError, match=r"latin1\.toml is not UTF-8 text \(byte 0xe9 at offset 18\)"
    ):
        RunConfig.load(path)
    with pytest.raises(ConfigError, match=r"is a folder, expected a TOML file"):
        RunConfig.load(tmp_path)


def test_none_unsets_only_optional_fields_and_is_a_word_elsewhere():
    cfg = RunConfig(data=DataConfig(data_dir="/x")).override(
        ["data.validation=none", "data.data_dir=none", "train.schedule=none"]
    )
    assert cfg.data.validation == "none"  # the string, not "unset" (which gave "split")
    assert cfg.data.data_dir is None
    assert cfg.train.schedule == "none"
    shaped = RunConfig().override(["model.input_shape=[1, 28, 28]"])
    assert shaped.override(["model.input_shape=null"]).model.input_shape is None  # a family field
    with pytest.raises(ConfigError, match=r"train\.epochs='none' is invalid: expected an integer"):
        RunConfig().override(["train.epochs=none"])  # was silently reset to the default
    with pytest.raises(ConfigError, match=r"unknown key 'epochz'"):
        RunConfig().override(["train.epochz=none"])  # was silently ignored


def test_switching_the_family_keeps_the_shared_fields_and_resets_the_rest():
    from aelab.models import ConvConfig, DenseConfig
    from aelab.presets import load_preset

    base = load_preset("r2-mnist-deep-sparse")  # dense, hidden [256], L1 sparsity
    assert isinstance(base.model, DenseConfig) and base.model.hidden == (256,)
    conv = base.override(["model.family=conv", "model.channels=[8]"])
    assert isinstance(conv.model, ConvConfig) and conv.model.channels == (8,)
    assert (conv.model.latent_dim, conv.model.sparsity) == (
        base.model.latent_dim,
        base.model.sparsity,
    )
    same = base.override(["model.family=dense", "model.latent_dim=8"])
    assert same.model.hidden == (256,) and same.model.latent_dim == 8


def test_set_values_parses_text_with_the_fields_type():
    from aelab.config import set_values

    cfg = set_values(
        RunConfig(),
        [
            ("train.epochs", "5"),  # int field
            ("train.lr", "1e-3"),  # float field
            ("name", "1e-3"),  # a str field keeps what was written
            ("data.data_dir", "none"),  # an optional field: unset
            ("data.validation", "none"),  # a str field: the word
            ("model.hidden", "64,32"),  # a list field
            ("train.track", "tensorboard"),  # one item of a list field
            ("train.seed", 7),  # typed values pass as they are
        ],
    )
    assert (cfg.train.epochs, cfg.train.lr, cfg.name) == (5, 1e-3, "1e-3")
    assert (cfg.data.data_dir, cfg.data.validation) == (None, "none")
    assert (cfg.model.hidden, cfg.train.track, cfg.train.seed) == ((64, 32), ("tensorboard",), 7)
    # --set, with_values and override are that one function
    assert RunConfig().override(["train.epochs=5", "name=1e-3"]) == set_values(
        RunConfig(), {"train.epochs": "5", "name": "1e-3"}
    )


def test_set_values_unknown_keys_suggest_and_ranges_come_from_the_dataclass():
    from aelab.config import set_values

    with pytest.raises(
        ConfigError, match=r"unknown key 'epoch' in \[train\].*Did you mean 'epochs'"
    ):
        set_values(RunConfig(), {"train.epoch": "3"})
    with pytest.raises(ConfigError, match=r"'trian' is not a section.*Did you mean 'train'"):
        set_values(RunConfig(), {"trian.epochs": "3"})
    with pytest.raises(ConfigError) as info:
        set_values(RunConfig(), {"model.latent_dim": "0", "train.epochs": "2"})
    # one line naming the field, its value and the range, as ModelConfig.__post_init__ says it
    assert str(info.value) == (
        "model.latent_dim=0 is invalid: expected an integer from 1 to 1,048,576."
    )
