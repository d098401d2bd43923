"""Training progress: a tqdm bar per epoch on a terminal or in Jupyter (``tqdm.auto`` draws a
widget there), one plain line per epoch otherwise (CI logs), nothing with ``quiet``.

The ETA is the mean of the last five epochs' times, leaving out the first epoch this process
ran once a later one is timed: the first includes warm-up, and with ``train.compile`` the
compilation (often longer than the epoch itself), which would inflate every estimate."""

from __future__ import annotations

import importlib.util
import sys
from typing import TextIO

from tqdm.auto import tqdm


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel that can draw widget bars (ipywidgets
    installed); without widgets a notebook gets the plain lines."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return importlib.util.find_spec("ipywidgets") is not None


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Reports epochs of a run. ``step()`` is cheap: it only touches the bar on a terminal."""

    def __init__(
        self,
        epochs: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        compiling: bool = False,
    ) -> None:
        """``compiling``: the model is compiled (``train.compile``) during the first epoch."""
        self.epochs = epochs
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() or in_notebook()
        self.compiling = compiling
        self.bar: tqdm | None = None
        self.epoch_seconds: list[float] = []

    def eta(self, remaining: int) -> str:
        """The time ``remaining`` epochs will take, from the epochs timed so far."""
        if remaining <= 0:
            return format_seconds(0)
        timed = self.epoch_seconds[1:] or self.epoch_seconds
        if self.compiling and len(self.epoch_seconds) < 2:
            return "? (epoch 1 compiled the model)"
        recent = timed[-5:]
        return format_seconds(remaining * sum(recent) / len(recent))

    def message(self, text: str) -> None:
        """A line of its own (config notes, resume notices, the end-of-run summary)."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def start_epoch(self, epoch: int, steps: int) -> None:
        first_compiled = self.compiling and not self.epoch_seconds
        if self.quiet:
            return
        if not self.tty:
            if first_compiled:
                print(
                    f"epoch {epoch}/{self.epochs}: compiling the model (torch.compile); "
                    "this epoch takes longer",
                    file=self.stream,
                    flush=True,
                )
            return
        self.bar = tqdm(
            total=steps,
            desc=f"epoch {epoch}/{self.epochs}" + (" (compiling)" if first_compiled else ""),
            file=self.stream,
            leave=True,
            dynamic_ncols=True,
            unit="step",
        )

    def step(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def running_loss(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def end_epoch(self, epoch: int, row: dict[str, float], seconds: float) -> None:
        self.epoch_seconds.append(seconds)
        if self.quiet:
            return
        eta = self.eta(self.epochs - epoch)
        losses = {k: v for k, v in row.items() if k in ("train_loss", "val_loss")}
        if self.bar is not None:
            self.bar.set_postfix(
                {k.replace("train_", ""): f"{v:.4f}" for k, v in losses.items()} | {"eta": eta}
            )
            self.bar.close()
            self.bar = None
            return
        parts = "  ".join(f"{k.replace('train_', '')} {v:.4f}" for k, v in losses.items())
        print(
            f"epoch {epoch}/{self.epochs}  {parts}  {seconds:.1f}s  eta {eta}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
