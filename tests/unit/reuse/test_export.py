"""Export: ONNX files run in onnxruntime and match PyTorch to 1e-5 at two batch sizes;
TorchScript files load back and match exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab.api import build_model
from aelab.config import ModelConfig
from aelab.errors import ConfigError
from aelab.models.registry import config_class, list_models
from aelab.reuse.export import PARTS, example_input, export, part_module
from aelab.training import load_run

ort = pytest.importorskip("onnxruntime")
# the scorer needs a calibrated detector: tests/unit/reuse/test_export_scorer.py
MODEL_PARTS = tuple(p for p in PARTS if p != "scorer")


def run_onnx(path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


def reference(model, part: str, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return part_module(model, part)(x).numpy()


@pytest.fixture(scope="module")
def trained(run_dir):
    return load_run(run_dir)[0]


@pytest.mark.parametrize("part", MODEL_PARTS)
def test_onnx_parity_with_dynamic_batch(trained, part, tmp_path):
    path = export(trained, tmp_path / f"{part}.onnx", format="onnx", part=part)
    for batch in (1, 13):
        x = example_input(trained, part, batch)
        out = run_onnx(path, x)
        assert out.shape[0] == batch
        np.testing.assert_allclose(out, reference(trained, part, x), rtol=0, atol=1e-5)
    if part != "encoder":  # decoder and full models emit pixels, not logits
        assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("part", MODEL_PARTS)
def test_torchscript_round_trip(trained, part, tmp_path):
    path = export(trained, tmp_path / f"{part}.pt", format="torchscript", part=part)
    loaded = torch.jit.load(str(path))
    for batch in (2, 9):
        x = example_input(trained, part, batch)
        with torch.no_grad():
            np.testing.assert_allclose(loaded(x).numpy(), reference(trained, part, x), atol=1e-6)


@pytest.mark.parametrize("family", [f for f in list_models() if f != "dense"])
def test_every_family_exports_to_onnx(family, tmp_path):
    """The full model of each family's default config, on small 1x12x12 images (dense is
    covered part by part above)."""
    cfg = config_class(family)(latent_dim=8)
    assert isinstance(cfg, ModelConfig)
    model = build_model(cfg, input_shape=(1, 12, 12)).eval()
    path = export(model, tmp_path / "full.onnx", part="full")
    for batch in (1, 5):
        x = example_input(model, "full", batch)
        np.testing.assert_allclose(run_onnx(path, x), reference(model, "full", x), atol=1e-5)


def test_bad_format_or_part(trained, tmp_path):
    with pytest.raises(ConfigError, match="onnx, torchscript"):
        export(trained, tmp_path / "m.x", format="tflite")
    with pytest.raises(ConfigError, match="Did you mean 'encoder'"):
        export(trained, tmp_path / "m.onnx", part="encodr")
