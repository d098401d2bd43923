"""The training loss of an epoch, kept on the device: one vector ``[total, *parts]`` per
step, summed and checked for NaN/inf once per ``CHECK_EVERY`` steps, which is the only
time the host waits for the device (``benchmarks/train_bench.py`` measures the saving);
and the names of those parts, the history row's columns."""

from __future__ import annotations

import torch
from torch import Tensor

from aelab.models.base import Autoencoder
from aelab.training import distributed as ddp
from aelab.training.callbacks import LossWindow

# Loss values are checked for NaN/inf (one host sync) once per this many steps.
CHECK_EVERY = 50


class LossMeter:
    """Per-step loss vectors kept on the device; summed and checked for NaN/inf once per
    ``CHECK_EVERY`` steps, which is the only time the host waits for the device."""

    def __init__(self, names: list[str], device: torch.device, ctx: ddp.DistContext) -> None:
        self.names = names
        self.device = device
        self.ctx = ctx
        self.window = torch.empty(CHECK_EVERY, len(names), device=device)
        self.sizes: list[int] = []
        self.sums = torch.zeros(len(names), device=device, dtype=torch.float64)
        self.count = 0
        self.steps = 0

    def add(self, values: Tensor, n: int) -> bool:
        """Record one step; True when the window is full and must be flushed."""
        self.window[len(self.sizes)].copy_(values)
        self.sizes.append(n)
        return len(self.sizes) == CHECK_EVERY

    def flush(self, epoch: int, step: int, steps: int) -> LossWindow:
        """Fold the window into the sums; the window names the first NaN/inf, if any."""
        rows = self.window[: len(self.sizes)]
        finite = torch.isfinite(rows)
        local_bad = not bool(finite.all())
        bad = None
        if ddp.any_rank(local_bad, self.ctx, self.device):
            bad = self._first_bad(rows, finite) if local_bad else None
            bad = bad or (self.steps + 1, "loss", "non-finite on another rank")
        weights = torch.tensor(self.sizes, device=self.device, dtype=torch.float64)
        self.sums += weights @ rows.double()
        self.count += sum(self.sizes)
        self.steps += len(self.sizes)
        self.sizes.clear()
        running = float(self.sums[0]) / max(1, self.count)
        return LossWindow(epoch=epoch, step=step, steps=steps, running_loss=running, bad=bad)

    def _first_bad(self, rows: Tensor, finite: Tensor) -> tuple[int, str, str]:
        bad_steps = (~finite).any(dim=1).nonzero()
        i = int(bad_steps[0])
        bad_parts = (~finite[i]).nonzero().flatten().tolist()
        # Name the part that went bad rather than the total it propagates into.
        j = next((p for p in bad_parts if p != 0), bad_parts[0])
        value = float(rows[i, j])
        return self.steps + i + 1, self.names[j], "nan" if value != value else str(value)

    def means(self) -> list[float]:
        """Mean of every part over this epoch's images (summed over ranks)."""
        totals = torch.cat([self.sums, self.sums.new_tensor([self.count])])
        totals = ddp.all_reduce_sum(totals, self.ctx).tolist()
        return [v / totals[-1] for v in totals[:-1]]


def named(prefix: str, names: list[str], values: list[float]) -> dict[str, float]:
    """``{"train_loss": ..., "train_reconstruction": ...}``: a history row's columns."""
    return {f"{prefix}_{n}": v for n, v in zip(names, values, strict=True)}


def probe_part_names(model: Autoencoder, device: torch.device) -> list[str]:
    """The names of the loss parts (``loss`` first), from one eval-mode call on two
    constant inputs (no data needed, so streamed sources are not read).

    Run under a forked RNG so probing does not change the random stream of the run."""
    x = torch.full((2, *model.input_shape), 0.5, device=device)
    was_training = model.training
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        model.eval()
        out = model.loss(x)
    model.train(was_training)
    return ["loss", *out.parts]
