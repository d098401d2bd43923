"""Presets: listing, loading, TOML round trip, exact reference sizes, and the CLI."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import pytest

from aelab.api import build_model
from aelab.cli.main import main
from aelab.config import RunConfig, from_dict, load_toml
from aelab.errors import ConfigError
from aelab.presets import list_presets, load_preset, preset_path

EXPECTED = {
    "r1-fashion-sparse",
    "r2-mnist-deep-sparse",
    *(
        f"r3-{d}-{f}"
        for d in ("mnist", "fashion")
        for f in ("vanilla", "deep", "conv", "sparse", "denoising")
    ),
    "r4-fc",
    "r4-cnn",
    "r4-sparse",
    "r4-rnn",
    "r4-vae",
    "r5-cifar-sparse",
    "r5-cifar-sparse-mirrored",
}


def dense_params(sizes: list[int]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def mirrored(sizes: list[int]) -> list[int]:
    return sizes + sizes[-2::-1]


# Hand-computed parameter counts of the reference models.
PARAMS = {
    "r1-fashion-sparse": 784 * 32 + 32 + 32 * 784 + 784,  # 50,992 as Keras reports
    "r2-mnist-deep-sparse": dense_params(mirrored([784, 256, 32])),
    "r4-fc": dense_params(mirrored([784, 128, 64])),
    "r4-sparse": dense_params(mirrored([784, 128, 64])),
    "r4-cnn": (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + (32 * 16 * 9 + 16) + (16 * 1 * 9 + 1),
    "r4-rnn": 4 * 128 * (28 + 128) + 8 * 128 + 4 * 28 * (128 + 28) + 8 * 28,
    "r4-vae": dense_params([784, 400]) + 2 * (400 * 32 + 32) + dense_params([32, 400, 784]),
    "r5-cifar-sparse": dense_params(mirrored([3072, 1024, 512, 128])),
    "r5-cifar-sparse-mirrored": dense_params([3072, 1024, 512, 128]) + 512 + 1024 + 3072,
}


def build(cfg):
    return build_model(cfg)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_preset_loads_and_builds_without_a_warning(name):
    """A shipped preset says what it means: R4's over-complete CNN code is marked
    ``overcomplete = true``, so nothing warns (a warning here fails the test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_model(load_preset(name))


def test_every_reference_preset_ships():
    assert set(list_presets()) == EXPECTED


def test_r1_parameter_count_is_kerass():
    assert PARAMS["r1-fashion-sparse"] == 50_992
    assert build("r1-fashion-sparse").num_parameters() == 50_992


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_reference_parameter_counts(name):
    assert build(name).num_parameters() == PARAMS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_toml_round_trip_and_documentation(name):
    path = preset_path(name)
    text = path.read_text()
    assert text.lstrip().startswith("#"), "each preset says where it comes from"
    cfg = load_preset(name)
    assert cfg.preset == name and cfg.description
    again = RunConfig.from_dict(from_dict(RunConfig, load_toml(path)).to_dict())
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert again.model == cfg.model and again.train == cfg.train and again.data == cfg.data
    assert math.isclose(cfg.train.lr, 1e-3)


def test_reference_training_settings():
    r1 = load_preset("r1-fashion-sparse")
    assert (r1.train.batch_size, r1.train.epochs, r1.data.validation) == (256, 50, "test")
    assert (r1.model.loss, r1.model.reduction, r1.model.init) == ("bce", "mean", "keras")
    assert (r1.model.sparsity.kind, r1.model.sparsity.weight) == ("l1", 1e-5)
    r2 = load_preset("r2-mnist-deep-sparse")
    assert (r2.data.dataset, r2.data.validation, r2.data.val_size) == ("mnist", "split", 10_000)
    for name in ("r4-fc", "r4-cnn", "r4-sparse", "r4-rnn", "r4-vae"):
        cfg = load_preset(name)
        assert (cfg.model.loss, cfg.train.batch_size, cfg.train.epochs) == ("mse", 128, 50)
    assert load_preset("r4-vae").model.reduction == "sum"
    assert load_preset("r4-cnn").model.latent_dim == 1568


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ConfigError, match="Did you mean 'r4-vae'"):
        load_preset("r4-vea")


def test_cli_lists_presets_with_params(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "r1-fashion-sparse" in out and "50,992" in out and "r5-cifar-sparse-mirrored" in out


def test_cli_show_prints_a_keras_like_summary(capsys):
    assert main(["presets", "show", "r1-fashion-sparse", "--toml"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 50,992" in out
    assert "encoder.1 (Linear)" in out and "(None, 32)" in out and "25,120" in out
    assert 'preset = "r1-fashion-sparse"' in out


def test_cli_show_applies_overrides(capsys):
    assert main(["presets", "show", "r3-mnist-vanilla", "--set", "model.latent_dim=16"]) == 0
    assert "dense 784-16-784" in capsys.readouterr().out


def test_cli_unknown_preset_is_one_line_exit_2(capsys):
    assert main(["presets", "show", "r1-fashion"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean" in err and err.count("\n") == 1


def test_shipped_listing_is_current():
    # `aelab presets` reads this index instead of importing torch to count parameters.
    from aelab.cli import presets as presets_cli

    shipped = json.loads(presets_cli._index_path().read_text(encoding="utf-8"))
    assert shipped == presets_cli.build_index(), (
        "src/aelab/presets/index.json is stale: run `python -m aelab.cli.presets`"
    )


def test_presets_json_lists_every_preset(capsys):
    assert main(["presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(list_presets())
    assert {r["name"]: r["params"] for r in rows}["r1-fashion-sparse"] == PARAMS[
        "r1-fashion-sparse"
    ]


def test_listing_without_an_index_entry_is_computed(tmp_path, monkeypatch):
    from aelab.cli import presets as presets_cli

    shipped = presets_cli.rows()
    monkeypatch.setattr(presets_cli, "_index_path", lambda: tmp_path / "missing.json")
    assert presets_cli.rows() == shipped


def test_docs_presets_md_is_generated_from_the_presets():
    """docs/presets.md is `aelab presets --markdown`: every preset with its reference, layers
    and training, and the TOML with its provenance comments; editing a preset without
    regenerating the page fails here."""
    from aelab.cli.presets import markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "presets.md"
    text = markdown()
    for name in EXPECTED:
        assert f"## {name}\n" in text and preset_path(name).read_text() in text
    assert page.read_text(encoding="utf-8") == text, (
        "docs/presets.md is stale: run `aelab presets --markdown > docs/presets.md`"
    )


def test_cli_show_toml_is_a_config_file_as_is(capsys, tmp_path):
    # `aelab presets show NAME --toml > f.toml` then `aelab train --config f.toml`: the
    # summary is TOML comments, the file loads to the preset's (overridden) config
    assert main(["presets", "show", "r3-mnist-deep", "--toml", "--set", "model.latent_dim=16"]) == 0
    path = tmp_path / "f.toml"
    path.write_text(capsys.readouterr().out)
    loaded = RunConfig.load(path)
    assert loaded == load_preset("r3-mnist-deep").with_values({"model.latent_dim": 16})
    assert "# Total params:" in path.read_text()


# `aelab presets show r1-fashion-sparse` as it printed before the index held the summaries
# (Keras' model.summary() of R1, with the training line): the text users and docs quote.
R1_SHOW = """\
R1: Keras sparse AE on Fashion-MNIST, dense 784-32-784, ReLU code, L1 activity 1e-5, BCE

Model: "r1-fashion-sparse"  (dense 784-32-784, l1 sparsity 1e-05)
______________________________________________________
Layer (type)            Output Shape        Param #
======================================================
encoder.0 (Flatten)     (None, 784)         0
______________________________________________________
encoder.1 (Linear)      (None, 32)          25,120
______________________________________________________
encoder.2 (ReLU)        (None, 32)          0
______________________________________________________
sparsity (L1Sparsity)   (None, 32)          0
______________________________________________________
decoder.0 (Linear)      (None, 784)         25,872
______________________________________________________
decoder.1 (Unflatten)   (None, 1, 28, 28)   0
======================================================
Total params: 50,992
Trainable params: 50,992
Non-trainable params: 0
Input shape: (None, 1, 28, 28)   Code: (None, 32)   Regularizer: l1
Training: adam lr 0.001, batch 256, 50 epochs; loss bce (mean); data fashion-mnist (validation: test)
"""


def _show(capsys, *argv: str) -> str:
    assert main(["presets", "show", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_indexed_summary_equals_the_computed_one(name, capsys):
    """`presets show NAME` prints the summary stored in index.json; a no-op --set computes
    it (model built, one batch run). A model, summary or preset change that leaves the
    index stale fails here, naming the preset."""
    from aelab.cli import presets as presets_cli

    entry = presets_cli._indexed(presets_cli._read_index(), name)
    assert entry is not None, f"{name} is not in index.json: run `python -m aelab.cli.presets`"
    shipped = _show(capsys, name)
    seed = load_preset(name).train.seed
    computed = _show(capsys, name, "--set", f"train.seed={seed}")
    assert shipped == computed == "\n".join(entry["summary"]) + "\n", (
        f"index.json's summary of {name} is stale: run `python -m aelab.cli.presets`"
    )


def test_presets_show_output_is_unchanged(capsys, monkeypatch):
    from aelab.cli import presets as presets_cli

    assert _show(capsys, "r1-fashion-sparse") == R1_SHOW  # from the index
    monkeypatch.setattr(presets_cli, "_index_path", lambda: Path("/nonexistent/index.json"))
    assert _show(capsys, "r1-fashion-sparse") == R1_SHOW  # computed


def test_presets_show_reads_the_index_without_building_a_model(capsys, monkeypatch):
    from aelab.cli import presets as presets_cli

    def no_model(cfg):
        raise AssertionError("built a model although the index holds the summary")

    monkeypatch.setattr(presets_cli, "_model", no_model)
    assert _show(capsys, "r1-fashion-sparse") == R1_SHOW
    out = _show(capsys, "r1-fashion-sparse", "--toml")
    assert out.startswith("# R1: Keras sparse AE") and 'preset = "r1-fashion-sparse"' in out


def test_an_index_entry_for_another_toml_is_not_used(capsys, monkeypatch, tmp_path):
    """An entry whose digest is not the preset file's (the file was edited, the index not
    rebuilt) is ignored: the summary is computed, and --toml still loads as the preset."""
    from aelab.cli import presets as presets_cli

    index = presets_cli._read_index()
    index["r1-fashion-sparse"]["summary"] = ["stale"]
    index["r1-fashion-sparse"]["toml_sha256"] = "0" * 64
    path = tmp_path / "index.json"
    path.write_text(json.dumps(index), encoding="utf-8")
    monkeypatch.setattr(presets_cli, "_index_path", lambda: path)
    assert _show(capsys, "r1-fashion-sparse") == R1_SHOW
    toml = tmp_path / "r1.toml"
    toml.write_text(_show(capsys, "r1-fashion-sparse", "--toml"))
    assert RunConfig.load(toml) == load_preset("r1-fashion-sparse")
    assert "stale" not in toml.read_text()
