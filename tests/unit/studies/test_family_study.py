"""aelab.studies.family_study: every member under one protocol."""

from __future__ import annotations

import pytest

from aelab.errors import ConfigError
from aelab.studies.family_study import STUDY, study_configs


def test_study_covers_every_family_under_one_protocol() -> None:
    configs = study_configs(
        "fashion-mnist", latent_dim=16, epochs=2, sets={"data.train_limit": 500}
    )
    assert list(configs) == [m.name for m in STUDY]
    assert {c.model.family for c in configs.values()} == {"dense", "conv", "lstm", "vae"}
    kinds = {name: c.model.sparsity.kind for name, c in configs.items()}
    assert (
        kinds["sparse-l1"] == "l1" and kinds["sparse-kl"] == "kl" and kinds["sparse-topk"] == "topk"
    )
    assert configs["sparse-topk"].model.sparsity.k == 4
    assert configs["denoising"].model.noise.kind != "none"
    first = configs["vanilla"]
    for name, cfg in configs.items():
        assert cfg.data == first.data, name  # same data and split
        assert cfg.data.train_limit == 500 and cfg.data.dataset == "fashion-mnist"
        assert cfg.model.latent_dim == 16, name
        assert (cfg.train.epochs, cfg.train.seed) == (2, first.train.seed), name
        assert cfg.name == f"study-{name}"


def test_mnist_uses_the_mnist_presets_and_members_filter() -> None:
    configs = study_configs("mnist", members=["conv", "vae"])
    assert list(configs) == ["conv", "vae"]
    assert configs["conv"].preset == "r3-mnist-conv" and configs["vae"].data.dataset == "mnist"
    assert configs["conv"].train.epochs == 50


def test_bad_member_and_override() -> None:
    with pytest.raises(ConfigError, match="unknown study member"):
        study_configs(members=["cnn"])
    with pytest.raises(ConfigError, match="family study member 'vanilla'"):
        study_configs(sets={"model.nonsense": 1})
