"""A Keras-like ``model.summary()``: each layer's output shape and parameter count.

Shapes are recorded by running one batch through ``model.loss`` in eval mode (so every
layer that takes part, VAE heads included, is seen in call order); layers that did not
run are listed last with no shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aelab.models.base import Autoencoder


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int | None, ...] | None
    params: int


def _shape(output: object) -> tuple[int | None, ...] | None:
    if isinstance(output, (tuple, list)) and output:
        output = output[0]  # LSTM: (output, (h, c))
    if not isinstance(output, Tensor):
        return None
    return (None, *output.shape[1:])


def layer_rows(model: Autoencoder) -> list[LayerRow]:
    """One row per leaf layer, in the order the layers run."""
    leaves = {
        name: module
        for name, module in model.named_modules()
        if name
        and not list(module.children())
        and not isinstance(module, nn.Identity)
        and getattr(module, "kind", None) != "none"  # an unused regulariser slot
    }
    seen: dict[str, tuple[int | None, ...] | None] = {}
    hooks = []
    for name, module in leaves.items():

        def hook(_m: nn.Module, _inputs: object, output: object, name: str = name) -> None:
            seen.setdefault(name, _shape(output))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model.loss(torch.full((2, *model.input_shape), 0.5, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    order = [*seen, *[n for n in leaves if n not in seen]]
    return [
        LayerRow(
            name=n,
            kind=type(leaves[n]).__name__,
            output_shape=seen.get(n),
            params=sum(p.numel() for p in leaves[n].parameters(recurse=False)),
        )
        for n in order
        if seen.get(n) is not None or sum(p.numel() for p in leaves[n].parameters()) > 0
    ]


def summary(model: Autoencoder, title: str | None = None) -> str:
    """The Keras-style table as text (layers, output shapes, params, totals)."""
    rows = layer_rows(model)
    cells = [
        (
            f"{r.name} ({r.kind})",
            "-" if r.output_shape is None else str(r.output_shape).replace(",)", ")"),
            f"{r.params:,}",
        )
        for r in rows
    ]
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(c[i]) for c in [header, *cells]) + 3 for i in range(3)]
    width = sum(widths)

    def line(c: tuple[str, str, str]) -> str:
        return "".join(text.ljust(w) for text, w in zip(c, widths, strict=True)).rstrip()

    total = model.num_parameters()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out = [f'Model: "{title or model.family}"  ({model.describe()})', "_" * width]
    out += [line(header), "=" * width]
    for i, c in enumerate(cells):
        out.append(line(c))
        out.append("_" * width if i < len(cells) - 1 else "=" * width)
    out += [
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Input shape: (None, {', '.join(map(str, model.input_shape))})   "
        f"Code: (None, {model.latent_dim})   Regularizer: {model.regularizer}",
    ]
    return "\n".join(out)
