"""Export a trained autoencoder (or its encoder / decoder) to ONNX or TorchScript.

Parts and their signatures (B is dynamic in both formats):

- ``encoder``: images (B, C, H, W) float in [0, 1] -> codes (B, latent_dim)
- ``decoder``: codes (B, latent_dim) -> pixels (B, C, H, W) in [0, 1]
- ``full``:    images (B, C, H, W) float in [0, 1] -> pixels (B, C, H, W) in [0, 1]

The decoder and the full model end in a sigmoid, so exported files emit pixels, not the
logits ``Autoencoder.decode`` returns for stable training losses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from aelab.errors import ConfigError, DependencyError, did_you_mean
from aelab.models.base import Autoencoder

FORMATS = ("onnx", "torchscript")
PARTS = ("encoder", "decoder", "full")
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


def export_onnx(model: Autoencoder, part: str, path: str | Path) -> Path:
    """Write ``part`` of ``model`` to ONNX with the dynamo exporter and a dynamic batch axis."""
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise DependencyError(
            f"ONNX export needs {' and '.join(ONNX_PACKAGES)} (torch's exporter imports them), "
            f"but {', '.join(missing)} is not installed: pip install 'aelab[onnx]', "
            "or export --format torchscript, which needs nothing more."
        )
    module = part_module(model, part)
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
            output_names=["output"],
            opset_version=OPSET,
            verbose=False,
        )
    program.save(str(path))
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
    model: Autoencoder, path: str | Path, *, format: str = "onnx", part: str = "full"
) -> Path:
    """Export ``part`` ("encoder" | "decoder" | "full") of ``model`` to ``path`` in ``format``."""
    if format not in _EXPORTERS:
        raise ConfigError(
            f"export format {format!r} is unknown; expected one of {', '.join(FORMATS)}."
            + did_you_mean(format, FORMATS)
        )
    part_module(model, part)  # validates the part name before any work
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        return _EXPORTERS[format](model, part, path)
    finally:
        model.train(was_training)
