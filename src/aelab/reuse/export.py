"""Export a trained autoencoder (or its encoder / decoder) to ONNX or TorchScript.

Parts and their signatures (B is dynamic in both formats):

- ``encoder``: images (B, C, H, W) float in [0, 1] -> codes (B, latent_dim)
- ``decoder``: codes (B, latent_dim) -> pixels (B, C, H, W) in [0, 1]
- ``full``:    images (B, C, H, W) float in [0, 1] -> pixels (B, C, H, W) in [0, 1]
- ``scorer``:  images (B, C, H, W) float in [0, 1] -> (score (B,) float64, anomaly (B,) bool),
  the calibrated detector of the run (``RUN/detector.json``): its normal codes, log
  statistics and threshold are constants of the graph, and its definition and threshold are
  in the ONNX model's ``metadata_props`` (ONNX only).

The decoder and the full model end in a sigmoid, so exported files emit pixels, not the
logits ``Autoencoder.decode`` returns for stable training losses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from aelab.atomic import atomic_write_bytes
from aelab.errors import ConfigError, DependencyError, did_you_mean
from aelab.models.base import Autoencoder

FORMATS = ("onnx", "torchscript")
PARTS = ("encoder", "decoder", "full", "scorer")
OPSET = 18
# torch's ONNX exporter (dynamo=True) imports these; the ``aelab[onnx]`` extra installs them.
ONNX_PACKAGES = ("onnx", "onnxscript")


# part -> what the exported module computes from the model and its input
_FORWARD: dict[str, Callable[[Autoencoder, Tensor], Tensor]] = {
    "encoder": lambda model, x: model.encode(x),
    "decoder": lambda model, z: torch.sigmoid(model.decode(z)),
    "full": lambda model, x: model.reconstruct(x),
}


class Part(nn.Module):
    """One part of an autoencoder as a module of its own (shares the model's weights)."""

    def __init__(self, model: Autoencoder, part: str) -> None:
        super().__init__()
        self.model = model
        self.part = part

    def forward(self, x: Tensor) -> Tensor:
        return _FORWARD[self.part](self.model, x)


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the ONNX exporter's warnings and log lines (e.g. "torchvision is not installed")."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


class Scorer(nn.Module):
    """The detector's score and decision as one module: images (B, C, H, W) in [0, 1] ->
    (score (B,) float64, score > threshold (B,) bool). The code distance is computed in
    float64 (squared norms expanded, then the ``k`` smallest), as exact as scikit-learn's."""

    def __init__(self, model: Autoencoder, detector) -> None:
        super().__init__()
        self.model = model
        self.kind, self.k, self.method = detector.score_name, detector.k, detector.code_score
        self.threshold = float(detector.threshold)
        self.stats = {p: (float(m), float(s)) for p, (m, s) in detector.log_stats.items()}
        codes = torch.from_numpy(np.asarray(detector.normal_codes, dtype=np.float64))
        self.register_buffer("codes", codes)
        self.register_buffer("codes_sq", codes.square().sum(1))
        self.register_buffer("codes_mean", codes.mean(0) if len(codes) else codes.sum(0))

    def code_distance(self, x: Tensor) -> Tensor:
        z = self.model.encode(x).double()
        if self.method == "mean":
            return (z - self.codes_mean).square().sum(1).sqrt()
        d2 = z.square().sum(1, keepdim=True) - 2.0 * z @ self.codes.T + self.codes_sq
        k = min(self.k, int(self.codes.shape[0]))
        nearest = torch.topk(d2, k, dim=1, largest=False).values
        return nearest.clamp_min(0.0).sqrt().mean(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.clamp(0.0, 1.0)
        parts = {}
        if self.kind != "code":  # as TrainedModel.score: float32 MSE
            recon = torch.sigmoid(self.model(x))
            parts["reconstruction"] = (recon - x).square().flatten(1).mean(1).double()
        if self.kind != "reconstruction":
            parts["code"] = self.code_distance(x)
        if self.kind == "combined":
            tiny = float(np.finfo(np.float64).tiny)
            score = sum(
                (parts[p].clamp_min(tiny).log() - mean) / std
                for p, (mean, std) in self.stats.items()
            )
        else:
            score = parts[self.kind]
        return score, score > self.threshold


def scorer_metadata(detector) -> dict[str, str]:
    """The ONNX ``metadata_props`` of a scorer: the score definition and the threshold."""
    d = detector.to_dict()
    return {
        "aelab.part": "scorer",
        "aelab.score": d["score"],
        "aelab.definition": d["definition"],
        "aelab.threshold": repr(float(d["threshold"])),
        "aelab.target_fpr": repr(float(d["target_fpr"])),
        "aelab.decision": d["decision"],
        "aelab.detector": json.dumps(d, sort_keys=True),
    }


def part_module(model: Autoencoder, part: str) -> nn.Module:
    """The ``part`` of ``model`` as a module in eval mode (shares the model's weights)."""
    if part not in _FORWARD:
        raise ConfigError(
            f"export part {part!r} is unknown; expected one of {', '.join(PARTS)}."
            + did_you_mean(part, PARTS)
        )
    return Part(model, part).eval()


def example_input(model: Autoencoder, part: str, batch: int = 2) -> Tensor:
    """A deterministic example input for tracing: (batch, C, H, W) or (batch, latent_dim)."""
    gen = torch.Generator().manual_seed(0)
    shape = (batch, model.latent_dim) if part == "decoder" else (batch, *model.input_shape)
    device = next(model.parameters()).device
    return torch.rand(shape, generator=gen).to(device)


def export_onnx(model: Autoencoder, part: str, path: str | Path, detector=None) -> Path:
    """Write ``part`` of ``model`` to ONNX with the dynamo exporter and a dynamic batch axis
    (``scorer``: of ``detector``'s score, with its definition in the metadata)."""
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise DependencyError(
            f"ONNX export needs {' and '.join(ONNX_PACKAGES)} (torch's exporter imports them), "
            f"but {', '.join(missing)} is not installed: pip install 'aelab[onnx]', "
            "or export --format torchscript, which needs nothing more."
        )
    module = Scorer(model, detector).eval() if part == "scorer" else part_module(model, part)
    x = example_input(model, part)
    batch = torch.export.Dim("batch", min=1)
    path = Path(path)
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module,
            (x,),
            dynamo=True,
            dynamic_shapes=({0: batch},),
            input_names=["input"],
            output_names=["score", "anomaly"] if part == "scorer" else ["output"],
            opset_version=OPSET,
            verbose=False,
        )
    if part != "scorer":
        program.save(str(path))
        return path
    import onnx

    proto = program.model_proto
    onnx.helper.set_model_props(proto, scorer_metadata(detector))
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def export_torchscript(model: Autoencoder, part: str, path: str | Path) -> Path:
    """Write ``part`` of ``model`` as a traced TorchScript module (``torch.jit.load`` reads it)."""
    module = part_module(model, part)
    x = example_input(model, part)
    path = Path(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarning / deprecation notices
        traced = torch.jit.trace(module, (x,), check_trace=False)
        traced.save(str(path))
    return path


_EXPORTERS: dict[str, Callable[[Autoencoder, str, str | Path], Path]] = {
    "onnx": export_onnx,
    "torchscript": export_torchscript,
}


def export(
    model: Autoencoder,
    path: str | Path,
    *,
    format: str = "onnx",
    part: str = "full",
    detector=None,
) -> Path:
    """Export ``part`` ("encoder" | "decoder" | "full" | "scorer") of ``model`` to ``path``
    in ``format``; the scorer needs the run's ``detector`` (a Detector) and ONNX."""
    if format not in _EXPORTERS:
        raise ConfigError(
            f"export format {format!r} is unknown; expected one of {', '.join(FORMATS)}."
            + did_you_mean(format, FORMATS)
        )
    if part == "scorer":
        if format != "onnx":
            raise ConfigError(
                f"the scorer exports to ONNX only (its threshold and definition travel in the "
                f"model's metadata); found --format {format}: pass --format onnx."
            )
        if detector is None:
            raise ConfigError(
                "exporting the scorer needs the run's calibrated detector (detector.json): "
                "run `aelab anomaly ... --save-runs` or aelab.reuse.detector.calibrate first."
            )
    else:
        part_module(model, part)  # validates the part name before any work
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        if part == "scorer":
            return export_onnx(model, part, path, detector)
        return _EXPORTERS[format](model, part, path)
    finally:
        model.train(was_training)
