"""Data-parallel training with torch.distributed (DDP), launched by ``torchrun``.

``torchrun --nproc_per_node=N -m aelab train ...`` sets RANK/WORLD_SIZE/LOCAL_RANK; this
module reads them, starts the process group (gloo on CPU, nccl on CUDA) and wraps the
loss in DistributedDataParallel. Without those variables everything is single-process.

DDP synchronises gradients only for what runs through the wrapped module's ``forward``,
so the trainer wraps :class:`LossModule` (whose forward *is* the model's loss), not the
autoencoder itself.

Ending a job (issue 25: a rank aborted at exit under load, "terminate called without an
active exception"): the gloo backend runs two worker threads and a socket thread, which
only stop when the backend object is freed. ``destroy_process_group`` merely forgets the
group; while anything still holds it the threads run on into interpreter shutdown and
``exit()``, beside a peer that is closing its sockets at that moment. Two things held it
for good: importing ``torch._dynamo`` (which the first optimizer does) while the group
exists keeps ten references to it (torch 2.13), and the DDP wrapper, alive until the
trainer is. So :func:`setup` imports ``torch._dynamo`` first, the trainer drops its
wrapper before :func:`teardown`, and teardown waits for every rank (a barrier) before
freeing the group: after ``train`` returns, no gloo thread is left.
"""

from __future__ import annotations

import gc
import os
import traceback
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
    # Imported later (by the first optimizer) it would hold the group for good: see above.
    import torch._dynamo

    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)
    return True


def teardown(started: bool, failed: BaseException | None = None) -> None:
    """Free the group this process started, its backend threads joined here, not at exit.

    Call it once nothing holds the DDP wrapper (the collection frees one left in a
    reference cycle). A clean end waits for every rank first (a barrier), so a rank that
    finished first does not close its connections while another is still in a
    collective. ``failed``: the exception ending this rank; no barrier then (the others
    may be inside another collective and learn of it from the closed connections), and
    the finished frames of its traceback let go of the trainer they hold.
    """
    if not (started and dist.is_initialized()):
        return
    try:
        if failed is None:
            dist.barrier()
        else:
            traceback.clear_frames(failed.__traceback__)
    finally:
        dist.destroy_process_group()
        gc.collect()


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


def wrap(module: LossModule, ctx: DistContext, device: torch.device) -> nn.Module:
    """DDP around the loss module when distributed; the module itself otherwise."""
    if not ctx.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)
