"""Data-parallel training with torch.distributed, launched by ``torchrun``.

``torchrun --nproc_per_node=N -m aelab train ...`` sets RANK/WORLD_SIZE/LOCAL_RANK; this
module reads them, starts the process group (gloo on CPU, nccl on CUDA), gives every rank
rank 0's weights (:func:`wrap`) and averages the gradients after each backward
(:func:`average_gradients`). Without those variables everything is single-process.

Why not ``DistributedDataParallel``: with torch 2.13 constructing it leaks references to
its process group (measured: ten references no Python object holds), so
``destroy_process_group`` never freed the gloo backend and every rank went through
interpreter shutdown and ``exit()`` with gloo's two worker threads and its socket thread
still running, beside a peer closing its sockets at the same moment: the window in which
a rank aborted under load ("terminate called without an active exception", issue 25).
Plain collectives leave nothing behind: :func:`teardown` joins those threads while the
interpreter is whole. For aelab's small models one all-reduce of the flattened gradients per step is
what DDP did anyway (a single bucket), without the overlap that only large models need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from aelab.models.base import Autoencoder


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job: rank, world size, and the rank on this machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone prints and writes the run directory."""
        return self.rank == 0


def context_from_env() -> DistContext:
    """The DDP context torchrun describes in the environment (single process otherwise)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    return DistContext(
        rank=int(os.environ["RANK"]),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def setup(ctx: DistContext, device: torch.device) -> bool:
    """Start the process group when needed; True when this call started it."""
    if not ctx.enabled or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)
    return True


def teardown(started: bool) -> None:
    """Leave together, then free the group (its backend threads joined here, not at exit).

    The barrier keeps a rank that finished first from closing its connections while
    another is still inside a collective or still tearing down its own group.
    """
    if not (started and dist.is_initialized()):
        return
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()


def all_reduce_sum(tensor: Tensor, ctx: DistContext) -> Tensor:
    """Sum ``tensor`` over ranks in place (identity when single-process)."""
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True when ``flag`` is true on any rank (so every rank stops together)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


class LossModule(nn.Module):
    """``forward(x)`` = the model's loss as one float32 vector ``[total, *parts]``.

    One vector instead of a LossOutput keeps the trainer's bookkeeping to a single tensor
    per step.
    """

    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model.loss(x)
        values = torch.stack([out.total.float(), *(v.float() for v in out.parts.values())])
        return out.total, values.detach()


def wrap(module: LossModule, ctx: DistContext) -> nn.Module:
    """The loss module, every rank starting from rank 0's parameters and buffers; while
    training, rank 0's buffers are broadcast before each forward (as DDP's
    ``broadcast_buffers``). Single-process: the module itself."""
    if not ctx.enabled:
        return module
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t, src=0)
    return BroadcastBuffers(module) if any(True for _ in module.buffers()) else module


class BroadcastBuffers(nn.Module):
    """Rank 0's buffers (e.g. dead-unit counters) on every rank before each training
    forward, so every rank's loss sees the same state."""

    def __init__(self, module: LossModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.module.model.training:
            with torch.no_grad():
                for b in self.module.buffers():
                    dist.broadcast(b, src=0)
        return self.module(x)


def average_gradients(model: nn.Module, ctx: DistContext) -> None:
    """Replace every parameter's gradient by its mean over the ranks (one all-reduce per
    dtype of the flattened gradients). A parameter without a gradient counts as zeros,
    so every rank reduces the same layout. Identity when single-process."""
    if not ctx.enabled:
        return
    groups: dict[torch.dtype, list[nn.Parameter]] = {}
    for p in model.parameters():
        if p.requires_grad:
            groups.setdefault(p.dtype, []).append(p)
    for params in groups.values():
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= ctx.world_size
        for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
            if p.grad is None:
                p.grad = g.view_as(p).clone()
            else:
                p.grad.copy_(g.view_as(p))
