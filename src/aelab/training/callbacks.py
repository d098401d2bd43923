"""The trainer's callback seam: what the loop calls after its own work, the typed state it
hands over, and the built-in callbacks. Names follow Keras and Lightning so users know them.

A callback overrides any of:

- ``on_train_start(trainer)``: the model, optimizer and (resumed) state exist; nothing
  has been trained in this session yet.
- ``on_epoch_start(trainer, epoch)``: before the epoch's first step.
- ``on_train_batch_end(trainer, epoch, step, window)``: after every optimizer step
  (``step`` counts from 1 within the epoch). Loss values stay on the device; every
  ``CHECK_EVERY`` steps and at the epoch's last step the loop reads them once, and
  ``window`` (a :class:`LossWindow`) carries them; it is None on the other steps.
- ``on_epoch_end(trainer, epoch, logs)``: after the epoch's validation and schedule step;
  ``logs`` is the epoch's history row (``train_loss``, ``train_<part>``, ``val_loss``,
  ``val_<part>``, ``seconds``, ``lr``). Model selection and checkpoints are callbacks
  too, so callbacks run in list order: the built-ins first, then the user's.
- ``on_train_end(trainer, status)``: ``completed``, ``early_stopped``, ``stopped``
  (a callback asked), ``interrupted`` or ``diverged``; before the run summary
  (metrics.json) is written.

``trainer`` exposes ``config`` (RunConfig), ``run_dir`` (Path or None), ``writes`` (this
process writes the run directory: it has one and is rank 0), ``model``, ``optimizer``,
``state`` (:class:`EpochState`) and ``request_stop(reason)``: the loop finishes the
current epoch and its callbacks, then stops, like Keras' ``stop_training``; the run ends
``stopped`` (``early_stopped`` when :class:`EarlyStopping` asks), the state saved with the
last checkpoint says so and a resume has nothing left to train. Under DDP a stop asked on
any rank stops every rank.

Built in, assembled from the config by :func:`default_callbacks`: :class:`ProgressCallback`,
:class:`TerminateOnNaN`, :class:`EarlyStopping` (when there is validation data) and
:class:`ModelCheckpoint`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import torch

from aelab.config import RunConfig
from aelab.data.splits import DatasetSplits
from aelab.errors import ConfigError, TrainingError
from aelab.models.base import Autoencoder
from aelab.rundir import FINISHED, write_history
from aelab.training import checkpoint as ckpt
from aelab.training.distributed import DistContext
from aelab.training.progress import Progress, format_seconds


@dataclass
class EpochState:
    """Where a run stands after its last finished epoch; saved in ``last.state.pt`` and
    restored on resume. ``best_weights`` (the best epoch's tensors, kept by
    :class:`ModelCheckpoint`) is saved beside it; ``checkpoint_epoch`` (the epoch of the
    checkpoint committed on disk, 0: none) lives in memory only.

    ``stop_status`` says who stopped the run: ``early_stopped`` or ``stopped``."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped: bool = False
    stop_reason: str | None = None
    stop_status: str | None = None
    wall_time_s: float = 0.0
    train_seconds: float = 0.0
    train_images: int = 0
    best_weights: dict[str, Any] | None = None
    checkpoint_epoch: int = field(default=0, compare=False)

    SAVED = (
        "epoch",
        "history",
        "best_val",
        "best_epoch",
        "bad_epochs",
        "stopped",
        "stop_reason",
        "stop_status",
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
        s = cls(**{name: state[name] for name in cls.SAVED if name in state})
        s.checkpoint_epoch = s.epoch
        if "best" in state.get("weights", {}):  # state format 2 holds the best weights
            s.best_weights = ckpt.committed_tensors(state, "best")
        if s.stopped and s.stop_status is None:  # saved before callbacks could stop a run
            s.stop_status = "early_stopped"
        return s

    @property
    def status(self) -> str:
        """How the run ended when no epoch is left to train."""
        return (self.stop_status or "stopped") if self.stopped else "completed"


@dataclass(frozen=True)
class LossWindow:
    """The loss values of the steps since the last check, read from the device at once.

    ``bad``: (step, part, 'nan' | 'inf' | ...) of the first non-finite value, else None;
    ``running_loss``: the mean training loss of the epoch so far (this rank's images)."""

    epoch: int
    step: int
    steps: int
    running_loss: float
    bad: tuple[int, str, str] | None = None


class Trainer(Protocol):
    """What a callback sees of :class:`aelab.training.trainer.Trainer` (a Protocol, so
    this module does not import the loop that imports it)."""

    config: RunConfig
    run_dir: Path | None
    writes: bool  # this process writes run_dir (it has one and is rank 0)
    data: DatasetSplits
    model: Autoencoder
    optimizer: torch.optim.Optimizer
    state: EpochState
    ctx: DistContext
    device: torch.device
    threads: int
    precision: str
    precision_note: str | None
    steps_per_epoch: int

    def request_stop(self, reason: str, status: str = "stopped") -> None: ...

    def state_dict(self) -> dict[str, Any]: ...


class Callback:
    """Base class: every hook does nothing. Subclass and override what you need."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Called once per training session, before the first epoch it trains."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before every epoch's first step."""

    def on_train_batch_end(
        self, trainer: Trainer, epoch: int, step: int, window: LossWindow | None
    ) -> None:
        """Called after every step; ``window`` holds the losses on the steps that read them."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        """Called after every epoch with that epoch's history row."""

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        """Called once when the session ends, however it ends."""


def check_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` as a list of Callback instances; anything else is a ConfigError saying
    what was expected, raised before any data loads or training starts."""
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise ConfigError(
            f"callbacks={callbacks!r:.60} is invalid: expected a list of "
            "aelab.training.Callback instances, e.g. callbacks=[MyCallback()]."
        )
    for i, cb in enumerate(callbacks):
        if isinstance(cb, Callback):
            continue
        if isinstance(cb, type) and issubclass(cb, Callback):
            found = f"the class {cb.__name__}; pass an instance: {cb.__name__}()"
        else:
            found = f"a {type(cb).__name__} ({cb!r:.40})"
        raise ConfigError(
            f"callbacks[{i}] is {found}; expected an instance of aelab.training.Callback "
            "(subclass it and override on_epoch_end and the other hooks you need)."
        )
    return list(callbacks)


log = logging.getLogger(__name__)


def warn_if_test_decides(config: RunConfig, decision: str) -> bool:
    """One warning line when ``decision`` (a tune objective, pruning: anything that picks
    on val_loss) would pick on the test set: ``data.validation='test'`` (R1's Keras parity)
    reports the test set as validation data. Early stopping and the best checkpoint are
    refused or off for such a run (RunConfig, :func:`default_callbacks`). True if warned."""
    if config.data.validation != "test":
        return False
    log.warning(
        "%s decides on val_loss, which data.validation='test' computes on the test set: "
        "the test metrics are then no held-out estimate; set data.validation=split to "
        "select on held-out training images",
        decision,
    )
    return True


def default_callbacks(config: RunConfig, *, validation: bool, quiet: bool) -> list[Callback]:
    """The built-in callbacks ``config`` asks for, in the order they run."""
    tc = config.train
    if tc.early_stopping and not validation:
        raise ConfigError(
            "train.early_stopping needs validation data, but data.validation='none'; "
            "set data.validation='split' or train.early_stopping=0."
        )
    callbacks: list[Callback] = [ProgressCallback(quiet=quiet), TerminateOnNaN()]
    if validation:
        callbacks.append(EarlyStopping(patience=tc.early_stopping, min_delta=tc.min_delta))
    # The test set reported as validation (Keras parity) never selects a model.
    keep_best = validation and config.data.validation != "test"
    callbacks.append(
        ModelCheckpoint(
            every=tc.checkpoint_every, keep_best=keep_best, restore_best=tc.restore_best
        )
    )
    return callbacks


# --------------------------------------------------------------------------- built-ins


class ProgressCallback(Callback):
    """What the run says: the setup line, a bar or a line per epoch, how it ended."""

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream
        self.progress = Progress(0, quiet=True)
        self.first_epoch = 0

    def on_train_start(self, trainer: Trainer) -> None:
        epochs, state = trainer.config.train.epochs, trainer.state
        compiling = trainer.config.train.compile
        self.progress = p = Progress(
            epochs, quiet=self.quiet, stream=self.stream, compiling=compiling
        )
        self.first_epoch = state.epoch
        data, device = trainer.data, trainer.device
        n_train = "streamed" if data.train.num_samples is None else data.train.num_samples
        n_val = data.val.num_samples if data.val is not None else 0
        p.message(
            f"training {trainer.model.describe()} on {data.name}: {n_train} train / "
            f"{n_val} val samples, {trainer.model.num_parameters():,} parameters, {device}"
            + (f" ({plural(trainer.threads, 'thread')})" if device.type == "cpu" else "")
            + f", {trainer.precision}"
            + (f", {trainer.ctx.world_size} processes" if trainer.ctx.enabled else "")
        )
        if trainer.precision_note:
            p.message(trainer.precision_note)
        if state.epoch:
            p.message(f"resuming {trainer.run_dir} after epoch {state.epoch}/{epochs}")
        if state.stopped or state.epoch >= epochs:
            p.message(f"{trainer.run_dir} has finished training; nothing to do.")

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.progress.start_epoch(epoch, trainer.steps_per_epoch)

    def on_train_batch_end(
        self, trainer: Trainer, epoch: int, step: int, window: LossWindow | None
    ) -> None:
        if window is not None:
            self.progress.running_loss(window.running_loss)
        self.progress.step()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.progress.end_epoch(epoch, logs, logs["seconds"])

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        p, state = self.progress, trainer.state
        p.close()
        if state.stopped and state.epoch > self.first_epoch:
            label = "early stopping" if state.stop_status == "early_stopped" else "stopped"
            p.message(f"{label} after epoch {state.epoch}: {state.stop_reason}")
        if not trainer.writes:
            return
        if status in FINISHED:
            took = format_seconds(state.wall_time_s)
            p.message(f"done: {len(state.history)} epochs in {took}; {trainer.run_dir}")
        elif status == "interrupted" and state.checkpoint_epoch:
            p.message(
                f"interrupted; the last checkpoint (epoch {state.checkpoint_epoch}) is kept. "
                f"Resume with `aelab train --resume {trainer.run_dir}`."
            )
        elif status == "interrupted":
            p.message(
                f"interrupted before the first checkpoint; `aelab train --resume "
                f"{trainer.run_dir}` starts it from epoch 1."
            )


class TerminateOnNaN(Callback):
    """Stops the run with a TrainingError when a loss part turns NaN or infinite, naming
    the epoch, the step and the part, before the bad epoch can be checkpointed."""

    def on_train_batch_end(
        self, trainer: Trainer, epoch: int, step: int, window: LossWindow | None
    ) -> None:
        if window is None or window.bad is None:
            return
        bad_step, part, value = window.bad
        saved = trainer.state.checkpoint_epoch
        kept = (
            f"the last good checkpoint (epoch {saved}) is kept in {trainer.run_dir}"
            if trainer.writes and saved
            else "no checkpoint was written"
        )
        raise TrainingError(
            f"the loss became {value} at epoch {epoch}, step {bad_step}/{window.steps} "
            f"(part '{part}'); training stopped and {kept}. Lower train.lr, check the data "
            "for invalid values, or use precision fp32."
        )


class EarlyStopping(Callback):
    """Tracks the best epoch on ``val_loss`` (an improvement beats the best by more than
    ``min_delta``) and stops the run after ``patience`` epochs without one (0: never)."""

    def __init__(self, *, patience: int = 0, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if "val_loss" not in logs:
            return
        s = trainer.state
        if logs["val_loss"] < s.best_val - self.min_delta:
            s.best_val, s.best_epoch, s.bad_epochs = logs["val_loss"], epoch, 0
            return
        s.bad_epochs += 1
        if self.patience and s.bad_epochs >= self.patience:
            trainer.request_stop(
                f"no improvement of val_loss for {s.bad_epochs} epochs "
                f"(best {s.best_val:.6g} at epoch {s.best_epoch})",
                status="early_stopped",
            )


class ModelCheckpoint(Callback):
    """Commits a checkpoint (:func:`aelab.training.checkpoint.commit`: resume state, last
    weights, best weights, as one unit) every ``every`` epochs and at the end, then writes
    history.csv (history.csv alone in between). The best epoch's weights are kept in
    memory when it happens (``restore_best`` loads them at the end) and committed with the
    next checkpoint, so best.safetensors never runs ahead of the state."""

    def __init__(self, *, every: int = 1, keep_best: bool = True, restore_best: bool = False):
        self.every = every
        self.keep_best = keep_best
        self.restore_best = restore_best

    def on_train_start(self, trainer: Trainer) -> None:
        s = trainer.state
        if not trainer.writes or not s.checkpoint_epoch:
            return
        # A resumed run: a process killed inside a commit may have left weights files
        # behind the state; commit again so they agree before anything reads them.
        records = ckpt.load_state(ckpt.state_path(trainer.run_dir)).get("weights", {})
        if ckpt.unmatched_weights(trainer.run_dir, records):
            self.save(trainer)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        s = trainer.state
        if self.keep_best and s.best_epoch == epoch and (trainer.writes or self.restore_best):
            s.best_weights = {
                k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()
            }
        if not trainer.writes:
            return
        if epoch % self.every == 0 or epoch == trainer.config.train.epochs or s.stopped:
            self.save(trainer)
        else:
            write_history(trainer.run_dir, s.history)

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        if status not in FINISHED:
            return
        s = trainer.state
        if trainer.writes and s.checkpoint_epoch != s.epoch:  # stopped by a later callback
            self.save(trainer)
        if self.restore_best and s.best_weights is not None:
            trainer.model.load_state_dict(s.best_weights)

    def _weights(self, trainer: Trainer) -> dict[str, tuple[dict[str, Any], int]]:
        s = trainer.state
        weights = {"last": (trainer.model.state_dict(), s.epoch)}
        if self.keep_best and s.best_epoch is not None and s.best_weights is not None:
            weights["best"] = (s.best_weights, s.best_epoch)
        return weights

    def save(self, trainer: Trainer) -> None:
        """Commit the checkpoint of the epoch just finished, then write history.csv."""
        run_dir, s = trainer.run_dir, trainer.state
        ckpt.commit(run_dir, trainer.state_dict(), self._weights(trainer), trainer.config)
        s.checkpoint_epoch = s.epoch
        write_history(run_dir, s.history)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
