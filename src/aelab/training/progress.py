"""Training progress: a tqdm bar per epoch on a terminal or in Jupyter (``tqdm.auto`` draws a
widget there), one plain line per epoch otherwise (CI logs), nothing with ``quiet``."""

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

    def __init__(self, epochs: int, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.epochs = epochs
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() or in_notebook()
        self.bar: tqdm | None = None
        self.epoch_seconds: list[float] = []

    def message(self, text: str) -> None:
        """A line of its own (config notes, resume notices, the end-of-run summary)."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def start_epoch(self, epoch: int, steps: int) -> None:
        if self.quiet or not self.tty:
            return
        self.bar = tqdm(
            total=steps,
            desc=f"epoch {epoch}/{self.epochs}",
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
        remaining = self.epochs - epoch
        recent = self.epoch_seconds[-5:]
        eta = format_seconds(remaining * sum(recent) / len(recent))
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
