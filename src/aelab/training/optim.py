"""The optimizer and the learning-rate schedule a run's ``train`` config asks for."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from aelab.config import RunConfig

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD, fused when the device supports it, else foreach."""
    tc = config.train
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs: dict[str, Any] = {"lr": tc.lr, "weight_decay": tc.weight_decay}
    device_type = params[0].device.type if params else "cpu"
    fused = device_type in ("cuda", "cpu") and all(p.is_floating_point() for p in params)
    try:
        return OPTIMIZERS[tc.optimizer](params, fused=fused, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return OPTIMIZERS[tc.optimizer](params, foreach=True, **kwargs)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: RunConfig
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Per-epoch learning-rate schedule: none, cosine (to 0 over the run) or step."""
    tc = config.train
    if tc.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=tc.epochs)
    if tc.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=tc.step_size, gamma=tc.gamma)
    return None


def match_param_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor (Adam's moments, momentum) its parameter's
    memory layout. ``load_state_dict`` keeps the layout the state was saved with, and the
    fused CPU Adam of torch 2.13 reads state and parameter as flat buffers: a contiguous
    moment beside a channels-last conv weight (a run saved before conv models went
    channels-last, or on another layout) silently updates the wrong elements."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if (
                    isinstance(value, Tensor)
                    and value.shape == p.shape
                    and value.stride() != p.stride()
                ):
                    optimizer.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
