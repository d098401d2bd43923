"""The trainer's callback seam: what the loop calls after its own work, and the typed
state it hands over. Names follow Keras and Lightning so users know them.

A callback overrides any of:

- ``on_train_start(trainer)``: the model, optimizer and (resumed) state exist; nothing
  has been trained in this session yet.
- ``on_epoch_end(trainer, epoch, logs)``: after the epoch's validation, schedule step and
  model selection; ``logs`` is the epoch's history row (``train_loss``,
  ``train_<part>``, ``val_loss``, ``val_<part>``, ``seconds``, ``lr``). Checkpoints are
  written by a callback too, so callbacks run in list order.
- ``on_train_end(trainer, status)``: ``completed``, ``early_stopped``, ``stopped``
  (a callback asked), ``interrupted`` or ``diverged``.

``trainer`` exposes ``config`` (RunConfig), ``run_dir`` (Path or None), ``model``,
``optimizer``, ``state`` (:class:`EpochState`) and ``request_stop(reason)``: the loop
finishes the current epoch's callbacks, then stops, like Keras' ``stop_training``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from aelab.training.trainer import Trainer


@dataclass
class EpochState:
    """Where a run stands after its last finished epoch; saved in ``last.state.pt`` and
    restored on resume (``best_weights`` lives in memory only)."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped: bool = False
    stop_reason: str | None = None
    wall_time_s: float = 0.0
    train_seconds: float = 0.0
    train_images: int = 0
    best_weights: dict[str, Any] | None = None

    SAVED = (
        "epoch",
        "history",
        "best_val",
        "best_epoch",
        "bad_epochs",
        "stopped",
        "stop_reason",
        "wall_time_s",
        "train_seconds",
        "train_images",
    )

    def to_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.SAVED}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> EpochState:
        if state is None:
            return cls()
        return cls(**{name: state[name] for name in cls.SAVED if name in state})


class Callback:
    """Base class: every hook does nothing. Subclass and override what you need."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Called once per training session, before the first epoch it trains."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        """Called after every epoch with that epoch's history row."""

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        """Called once when the session ends, however it ends."""
