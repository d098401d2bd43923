"""Every config value is checked where it is declared: integers that do not fit in 64 bits,
non-finite floats, sizes beyond any layer, seeds beyond NumPy's range, data.image_size
where nothing resizes and run names that are not one folder name are one-line
ConfigErrors, whether they come from --set, a config file or the dataclass itself."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from aelab.config import RunConfig, TrainConfig, set_values
from aelab.data.config import DataConfig
from aelab.errors import ConfigError
from aelab.models.registry import config_class, list_models


def _float_fields() -> list[tuple[str, str]]:
    """(family, dotted key) of every float field a run config has, nested sections too."""
    found: set[tuple[str, str]] = set()

    def walk(cls: type, prefix: str, family: str) -> None:
        for name, tp in typing.get_type_hints(cls).items():
            if tp is float:
                found.add((family, f"{prefix}{name}"))
            elif dataclasses.is_dataclass(tp):
                walk(tp, f"{prefix}{name}.", family)

    for family in list_models():
        if family == "modules":  # built from Python modules, not from a config
            continue
        walk(config_class(family), "model.", family)
    walk(TrainConfig, "train.", "dense")
    walk(DataConfig, "data.", "dense")
    return sorted(found)


FLOATS = _float_fields()


def test_the_float_fields_are_found():
    keys = {key for _, key in FLOATS}
    assert {"train.lr", "model.sparsity.weight", "model.noise.level", "model.beta"} <= keys


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
@pytest.mark.parametrize(("family", "key"), FLOATS)
def test_every_float_field_must_be_finite(family, key, value):
    base = RunConfig().with_values({"model.family": family})
    with pytest.raises(ConfigError) as info:
        set_values(base, {key: value})
    message = str(info.value)
    assert key in message and "finite" in message and "\n" not in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model.latent_dim", "99999999999999999999"),
        ("model.latent_dim", "1e30"),
        ("train.seed", "99999999999999999999999"),
        ("train.epochs", "99999999999999999999"),
        ("train.batch_size", "-99999999999999999999"),
        ("model.hidden", "[64, 99999999999999999999]"),
        ("data.val_size", "1e300"),
        ("model.sparsity.k", "99999999999999999999"),
    ],
)
def test_integers_past_int64_are_config_errors(key, value):
    with pytest.raises(ConfigError, match=rf"^{key}=.* is invalid: expected .*64 bits"):
        set_values(RunConfig(), {key: value})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("model.latent_dim", "4611686018427387904", "from 1 to 1,048,576"),
        ("model.hidden", "[256, 2000000]", "from 1 to 1,048,576"),
        ("train.seed", "-1", "from 0 to 4,294,967,295"),
        ("train.seed", "9223372036854775807", "from 0 to 4,294,967,295"),
    ],
)
def test_sizes_and_seeds_have_ranges_torch_and_numpy_accept(key, value, expected):
    with pytest.raises(ConfigError, match=expected):
        set_values(RunConfig(), {key: value})


def test_other_families_sizes_are_range_checked():
    conv = RunConfig().with_values({"model.family": "conv"})
    with pytest.raises(ConfigError, match=r"channels=.*from 1 to 1,048,576"):
        set_values(conv, {"model.channels": "[32, 99999999]"})
    lstm = RunConfig().with_values({"model.family": "lstm"})
    with pytest.raises(ConfigError, match=r"hidden=.*from 1 to 1,048,576"):
        set_values(lstm, {"model.hidden": "9999999999"})


def test_the_dataclasses_check_directly_too():
    with pytest.raises(ConfigError, match="lr=inf"):
        TrainConfig(lr=float("inf"))
    with pytest.raises(ConfigError, match="seed="):
        TrainConfig(seed=2**70)


@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist", "idx:/data/idx", "npy:/x"])
def test_image_size_and_mode_are_refused_where_nothing_resizes(dataset):
    with pytest.raises(ConfigError, match=r"image_size=.*folder: datasets only"):
        set_values(RunConfig(), {"data.dataset": dataset, "data.image_size": "[100000, 100000]"})
    with pytest.raises(ConfigError, match=r"mode=.*folder: datasets only"):
        DataConfig(dataset=dataset, mode="RGB")


def test_image_size_of_a_folder_dataset_is_range_checked():
    ok = set_values(RunConfig(), {"data.dataset": "folder:/x", "data.image_size": "[32, 48]"})
    assert ok.data.image_size == (32, 48)
    for bad in ("[100000, 100000]", "[0, 8]", "[8]"):
        with pytest.raises(ConfigError, match="image_size="):
            set_values(RunConfig(), {"data.dataset": "folder:/x", "data.image_size": bad})


@pytest.mark.parametrize(
    "name", ["../../escaped", "a/b", "..", ".", "", "  ", "a\\b", "nul\0byte", "/abs"]
)
def test_a_run_name_is_one_folder_name(name, tmp_path):
    with pytest.raises(ConfigError, match=r"^name=.* is invalid: expected a run name"):
        set_values(RunConfig(), [("name", name)])
    # the same name in a config file someone sent
    path = tmp_path / "sent.toml"
    path.write_text(f"name = {name!r}\n".replace("'", '"') + RunConfig().to_toml())
    if "\0" not in name and "\\" not in name:
        with pytest.raises(ConfigError, match=r"^name="):
            RunConfig.load(path)


@pytest.mark.parametrize("name", ["r1-quick", "study-dense", "..hidden-ish", "a.b"])
def test_ordinary_run_names_pass(name):
    assert set_values(RunConfig(), [("name", name)]).name == name
