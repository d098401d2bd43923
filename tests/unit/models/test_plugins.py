"""Entry-point plugins: families (``aelab.models``) and presets (``aelab.presets``) from
modules found through ``importlib.metadata`` (here: real modules written to a temporary
directory, announced by real EntryPoint objects). The installed-package path end to end
is tests/integration/test_plugin.py."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata

import pytest

from aelab.errors import ConfigError
from aelab.models import registry
from aelab.presets import list_presets, load_preset, preset_sources

FAMILY_MODULE = """
from dataclasses import dataclass
from torch import nn
import aelab

@dataclass(frozen=True)
class EPConfig(aelab.ModelConfig):
    family: str = "test-ep"

@aelab.register_model("test-ep", EPConfig)
class EPAutoencoder(aelab.Autoencoder):
    def __init__(self, config):
        super().__init__(config)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(16, config.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, 16), nn.Unflatten(1, (1, 4, 4)))
        self.init_weights()
"""


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Install entry points (group -> [(name, value)]) backed by modules in tmp_path, with
    the registry's plugin state reset before and restored after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_PLUGIN_ERRORS", {})
    families = dict(registry._FAMILIES)
    yield_points: dict[str, list[metadata.EntryPoint]] = {}

    def entry_points(*, group: str):
        return metadata.EntryPoints(yield_points.get(group, []))

    monkeypatch.setattr(metadata, "entry_points", entry_points)

    def add(group: str, name: str, value: str) -> None:
        yield_points.setdefault(group, []).append(metadata.EntryPoint(name, value, group))

    yield add
    registry._FAMILIES.clear()
    registry._FAMILIES.update(families)
    for name in [m for m in sys.modules if m.startswith("aelab_test_")]:
        del sys.modules[name]


def test_a_plugin_family_is_imported_on_first_lookup(plugins, tmp_path):
    (tmp_path / "aelab_test_family.py").write_text(FAMILY_MODULE)
    plugins("aelab.models", "test-ep", "aelab_test_family")
    assert "aelab_test_family" not in sys.modules  # nothing imported yet
    cls = registry.config_class("test-ep")
    assert cls.__name__ == "EPConfig" and "aelab_test_family" in sys.modules
    assert "test-ep" in registry.list_models()
    model = registry.create_model(cls(latent_dim=3, input_shape=(1, 4, 4)))
    assert model.family == "test-ep" and model.num_parameters() == 16 * 3 + 3 + 3 * 16 + 16


def test_a_broken_plugin_warns_and_is_named_in_the_unknown_family_error(plugins, tmp_path):
    (tmp_path / "aelab_test_broken.py").write_text("raise ImportError('needs torch 9')\n")
    plugins("aelab.models", "broken", "aelab_test_broken")
    with pytest.warns(RuntimeWarning, match=r"plugin 'broken' \(aelab_test_broken\) failed"):
        assert "dense" in registry.list_models()  # the built-ins keep working
    with pytest.raises(ConfigError, match="failed to import: broken = aelab_test_broken: Im"):
        registry.config_class("mine")


@pytest.mark.filterwarnings("ignore:preset 'r4-fc' of aelab_test_presets is ignored")
def test_plugin_presets_are_listed_and_never_replace_builtin_ones(plugins, tmp_path):
    package = tmp_path / "aelab_test_presets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "r4-fc.toml").write_text('description = "an impostor"\n')
    (package / "tiny-mine.toml").write_text(
        textwrap.dedent("""
        description = "a plugin preset"
        [model]
        family = "dense"
        latent_dim = 3
        """)
    )
    plugins("aelab.presets", "mine", "aelab_test_presets")
    with pytest.warns(RuntimeWarning, match="preset 'r4-fc' of aelab_test_presets is ignored"):
        sources = preset_sources()
    assert sources["tiny-mine"] == "aelab_test_presets" and sources["r4-fc"] == "aelab"
    assert "tiny-mine" in list_presets()
    cfg = load_preset("tiny-mine")
    assert cfg.preset == "tiny-mine" and cfg.model.latent_dim == 3
    assert load_preset("r4-fc").description != "an impostor"
