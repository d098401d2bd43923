"""The training loop: plain and visible, like nanoGPT's, and blind to the model family.

Per step: take a batch from a :class:`~aelab.data.batcher.BatchSource` (in memory: an
``index_select`` on a tensor already on the device; streamed: a DataLoader),
``model.loss(batch)``, backward, optimizer step. Loss values stay on the device and are
read once per window of steps, so there is no host sync per step. Per epoch: validation
under ``inference_mode`` in large batches, a history row, the schedule step, then the
callbacks (:mod:`aelab.training.callbacks`): progress, NaN stopping, early stopping and
the best and last checkpoints are callbacks, not branches in this loop.

Reproducibility: the seed drives the initial weights, the noise of denoising models
(the global RNG, forked so the caller's RNG is left untouched), the shuffling
(:func:`aelab.data.batcher.epoch_generator`, a pure function of seed and epoch) and the
data splits (``load_dataset(seed=...)``). A resumed run restores the RNG, optimizer and
history and continues exactly where the uninterrupted run would have been.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from aelab import __version__
from aelab.config import RunConfig, with_input_shape
from aelab.data import load_dataset
from aelab.data.batcher import BatchSource
from aelab.data.inputs import PYTHON_PREFIX, Splits, as_splits
from aelab.data.splits import Split
from aelab.data.stream import batch_source
from aelab.errors import CheckpointError, ConfigError, TrainingError, check_choice
from aelab.models.base import Autoencoder
from aelab.models.registry import create_model
from aelab.rundir import claim, merge_metrics, run_lock, run_summary, write_history
from aelab.training import checkpoint as ckpt
from aelab.training import distributed as ddp
from aelab.training.callbacks import Callback, EpochState, check_callbacks, default_callbacks
from aelab.training.device import (
    auto_threads,
    autocast,
    cpu_threads,
    resolve_device,
    resolve_precision,
    tune_cpu_allocator,
)
from aelab.training.history import History
from aelab.training.meter import LossMeter, named, probe_part_names
from aelab.training.optim import build_optimizer, build_scheduler, match_param_layouts
from aelab.training.trackers import create_trackers


@dataclass
class TrainResult:
    """What :func:`train` returns. ``history`` holds one dict per epoch (history.csv rows)."""

    model: Autoencoder
    config: RunConfig
    history: History
    run_dir: Path | None
    wall_time_s: float
    images_per_s: float
    status: str = "completed"  # completed | early_stopped | stopped
    best_epoch: int | None = None


def train(
    config: RunConfig,
    run_dir: str | Path | None,
    *,
    data: Any = None,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
    model: Autoencoder | None = None,
) -> TrainResult:
    """Train ``config`` and write the run to ``run_dir`` (``None``: in memory, no files).

    ``data`` defaults to ``load_dataset(config.data, seed=config.train.seed)``; else any
    source :func:`aelab.data.as_splits` takes (arrays, tensors, a torch Dataset,
    IterableDataset or DataLoader, splits), with 10% held out for validation where the
    source can be split (none when ``data.validation='none'``).
    ``model`` trains a model you built (its config must be ``config.model``; it keeps its
    own initial weights) instead of building one from the config, e.g. one made with
    ``Autoencoder.from_modules``.
    ``resume`` continues the run in ``run_dir`` from its last checkpoint; ``overwrite``
    replaces a run already there (otherwise that is an error). ``callbacks`` run after
    the built-in ones (:mod:`aelab.training.callbacks`), then the trackers of
    ``train.track`` (:mod:`aelab.training.trackers`). Under ``torchrun`` the job is
    data-parallel (see :mod:`aelab.training.distributed`).
    """
    callbacks = check_callbacks(callbacks)  # before the data loads
    ctx = ddp.context_from_env()
    device = resolve_device(config.train.device, ctx.local_rank)
    started = ddp.setup(ctx, device)
    trainer: Trainer | None = None
    try:
        if data is None:
            data = load_dataset(config.data, seed=config.train.seed, progress=not quiet)
        else:
            val_size = 0 if config.data.validation == "none" else None
            data = as_splits(data, seed=config.train.seed, val_size=val_size)
        if data.name.startswith(PYTHON_PREFIX):  # the saved config names what it trained on
            config = dataclasses.replace(
                config, data=dataclasses.replace(config.data, dataset=data.name)
            )
        config = with_input_shape(config, data.shape)
        if config.train.track and ctx.is_main:  # rank 0 alone reports the run
            callbacks = [*callbacks, *create_trackers(config.train.track, run_dir)]
        threads = config.train.threads or auto_threads(ctx.world_size)
        if device.type == "cpu":
            tune_cpu_allocator()
        trainer = Trainer(
            config,
            run_dir,
            data,
            ctx=ctx,
            device=device,
            threads=threads,
            quiet=quiet,
            callbacks=callbacks,
            model=model,
        )
        with cpu_threads(threads):
            result = trainer.fit(resume=resume, overwrite=overwrite)
    except BaseException as exc:
        trainer = None  # it holds the DDP wrapper, which holds the process group
        ddp.teardown(started, failed=exc)
        raise
    trainer = None
    ddp.teardown(started)
    return result


class Trainer:
    """One training session: builds the model and optimizer, loops over epochs and hands
    every epoch to its callbacks (built-ins from the config first, then ``callbacks``).

    Callbacks see ``config``, ``run_dir``, ``writes``, ``model``, ``optimizer``, ``state``
    and :meth:`request_stop`."""

    model: Autoencoder
    optimizer: torch.optim.Optimizer

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path | None,
        data: Splits,
        *,
        ctx: ddp.DistContext,
        device: torch.device,
        threads: int,
        quiet: bool = False,
        callbacks: Sequence[Callback] = (),
        model: Autoencoder | None = None,
    ) -> None:
        tc = config.train
        if model is not None and model.config != config.model:
            raise ConfigError(
                f"the model given to train is a {model.config.family!r} model whose config "
                "differs from config.model; pass config=dataclasses.replace(config, "
                "model=model.config)."
            )
        self.given_model = model
        if tc.batch_size % ctx.world_size:
            raise ConfigError(
                f"train.batch_size={tc.batch_size} must be divisible by the number of "
                f"processes ({ctx.world_size}): it is the global batch, split across ranks."
            )
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writes = self.run_dir is not None and ctx.is_main
        self.data = data
        self.ctx = ctx
        self.device = device
        self.threads = threads
        self.precision, self.precision_note = resolve_precision(tc.precision, device)
        validation, quiet = data.val is not None, quiet or not ctx.is_main
        self.callbacks = default_callbacks(config, validation=validation, quiet=quiet)
        self.callbacks += check_callbacks(callbacks)
        self.state = EpochState()
        self.steps_per_epoch = 0

    def request_stop(self, reason: str, status: str = "stopped") -> None:
        """Stop after the current epoch; ``status`` (``stopped`` or ``early_stopped``) and
        ``reason`` are recorded in the state, so a resumed run knows it has finished."""
        check_choice("status", status, ("stopped", "early_stopped"))
        if not self.state.stopped:
            self.state.stopped, self.state.stop_reason = True, reason
            self.state.stop_status = status

    # -- setup -------------------------------------------------------------------------

    def _open_run_dir(self, resume: bool, overwrite: bool) -> dict[str, Any] | None:
        """Claim or reopen the run directory; returns the resume state when there is one."""
        run_dir = self.run_dir
        if run_dir is None:
            if resume:
                raise ConfigError("resume=True needs a run directory to resume from.")
            return None
        if resume:
            return ckpt.reopen(run_dir, self.config, save_config=self.ctx.is_main)
        error: CheckpointError | None = None
        if self.ctx.is_main:
            try:
                claim(run_dir, self.config, overwrite=overwrite)
            except CheckpointError as exc:
                error = exc
        # Every rank learns whether rank 0 refused, so none waits forever at a collective.
        if ddp.any_rank(error is not None, self.ctx, self.device):
            raise error or CheckpointError(f"rank 0 refused the run directory {run_dir}.")
        return None

    def _build(self) -> None:
        """Model, loss module, optimizer, schedule; the RNG is seeded before the init."""
        tc = self.config.train
        torch.manual_seed(tc.seed)
        model = self.given_model or create_model(self.config.model)
        self.model = model.to(self.device)
        self.part_names = probe_part_names(self.model, self.device)
        if self.ctx.rank:  # ranks share the init (DDP broadcasts it) but not the noise
            torch.manual_seed(tc.seed + 7919 * self.ctx.rank)
        self.loss_module = ddp.LossModule(self.model)
        self.loss_fn: nn.Module = ddp.wrap(self.loss_module, self.ctx, self.device)
        if tc.compile:
            self.loss_fn = torch.compile(self.loss_fn)
        self.optimizer = build_optimizer(self.model, self.config)
        self.scheduler = build_scheduler(self.optimizer, self.config)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs: the epoch state, weights, optimizer, schedule, RNG."""
        return self.state.to_state() | {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": ckpt.rng_state(),
            "family": self.config.model.family,
            "config": self.config.to_toml(),
            "aelab_version": __version__,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (read back from ``last.state.pt``)."""
        self.state = EpochState.from_state(state)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            match_param_layouts(self.optimizer)
            if self.scheduler is not None and state.get("scheduler"):
                self.scheduler.load_state_dict(state["scheduler"])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            ckpt.set_rng_state(state["rng"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(
                f"resume state of {self.run_dir} does not match this model or optimizer "
                f"({str(exc).splitlines()[0][:300]})."
            ) from None
        if self.ctx.rank:
            torch.manual_seed(self.config.train.seed + 7919 * self.ctx.rank + state["epoch"])

    # -- the loop ----------------------------------------------------------------------

    def fit(self, *, resume: bool = False, overwrite: bool = False) -> TrainResult:
        """Train (or resume) to ``train.epochs`` or until a callback stops the run; the
        process writing the run directory holds its lock throughout (one writer per run)."""
        with run_lock(self.run_dir if self.writes else None, "training", create=True):
            return self._fit(resume, overwrite)

    def _fit(self, resume: bool, overwrite: bool) -> TrainResult:
        start = time.perf_counter()
        saved = self._open_run_dir(resume, overwrite)
        fork_devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            self._build()
            if saved is not None:
                self.load_state_dict(saved)
            self._start, self._wall_before = start, self.state.wall_time_s
            train_batches, val_batches = self._batchers()
            self.steps_per_epoch = train_batches.num_batches
            for cb in self.callbacks:
                cb.on_train_start(self)
            try:
                self._loop(train_batches, val_batches)
            except KeyboardInterrupt:
                self._finish("interrupted")
                raise
            except TrainingError:
                self._finish("diverged")
                raise
            self.model.eval()
            return self._finish(self.state.status)

    def _batchers(self) -> tuple[BatchSource, BatchSource | None]:
        """This rank's training batches and its shard of the validation samples."""
        tc, ws, rank = self.config.train, self.ctx.world_size, self.ctx.rank
        train_batches = batch_source(
            self.data.train,
            tc.batch_size // ws,
            shuffle=tc.shuffle,
            seed=tc.seed,
            device=self.device,
            rank=rank,
            world_size=ws,
        )
        val = self.data.val
        if val is None:
            return train_batches, None
        if isinstance(val, Split):  # a strided shard, unpadded: every sample counts once
            val, rank, ws = Split(val.images[rank::ws]), 0, 1
        return train_batches, batch_source(
            val, tc.eval_batch_size, shuffle=False, device=self.device, rank=rank, world_size=ws
        )

    def _loop(self, batches: BatchSource, val_batches: BatchSource | None) -> None:
        state, epochs = self.state, self.config.train.epochs
        for epoch in range(state.epoch + 1, epochs + 1):
            if state.stopped:
                break
            t0 = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            for cb in self.callbacks:
                cb.on_epoch_start(self, epoch)
            meter = self._train_epoch(batches, epoch)
            state.train_seconds += time.perf_counter() - t0
            state.train_images += meter.count * self.ctx.world_size
            row: dict[str, float] = {"epoch": epoch}
            row |= named("train", self.part_names, meter.means())
            if val_batches is not None:
                row |= named("val", self.part_names, self.validate(val_batches))
            row |= {"seconds": time.perf_counter() - t0, "lr": lr}
            state.history.append(row)
            state.epoch = epoch
            if self.scheduler is not None:
                self.scheduler.step()
            state.wall_time_s = self._wall_before + time.perf_counter() - self._start
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, row)
            if ddp.any_rank(state.stopped, self.ctx, self.device) and not state.stopped:
                self.request_stop("another process asked to stop")

    def _train_epoch(self, batches: BatchSource, epoch: int) -> LossMeter:
        """One pass over the training batches: loss, backward, step, then the callbacks."""
        self.model.train()
        batches.set_epoch(epoch)
        meter = LossMeter(self.part_names, self.device, self.ctx)
        steps = batches.num_batches
        for step, (x, last) in enumerate(with_last(batches), start=1):
            with autocast(self.precision, self.device):
                total, values = self.loss_fn(x)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                total.backward()
                self.optimizer.step()
            full = meter.add(values, x.shape[0])
            window = meter.flush(epoch, step, steps or step) if full or last else None
            for cb in self.callbacks:
                cb.on_train_batch_end(self, epoch, step, window)
        return meter

    @torch.inference_mode()
    def validate(self, batches: BatchSource) -> list[float]:
        """Mean loss parts over the validation images (all ranks' shards together)."""
        self.model.eval()
        sums = torch.zeros(len(self.part_names) + 1, device=self.device, dtype=torch.float64)
        for x in batches:
            with autocast(self.precision, self.device):
                _, values = self.loss_module(x)
            sums[:-1] += values.double() * x.shape[0]
            sums[-1] += x.shape[0]
        ddp.all_reduce_sum(sums, self.ctx)
        totals = sums.tolist()
        return [v / totals[-1] for v in totals[:-1]]

    def _finish(self, status: str) -> TrainResult:
        """Tell the callbacks how the session ended, then write history and run summary."""
        s = self.state
        s.wall_time_s = self._wall_before + time.perf_counter() - self._start
        for cb in self.callbacks:
            cb.on_train_end(self, status)
        images_per_s = s.train_images / s.train_seconds if s.train_seconds else 0.0
        if self.writes:
            assert self.run_dir is not None
            write_history(self.run_dir, s.history)
            summary = run_summary(
                self.config,
                self.run_dir,
                status=status,
                history=s.history,
                best_epoch=s.best_epoch,
                best_val_loss=s.best_val if s.best_epoch is not None else None,
                model={
                    "regularizer": self.model.regularizer,
                    "parameters": self.model.num_parameters(),
                },
                runtime={
                    "wall_time_s": s.wall_time_s,
                    "images_per_s": images_per_s,
                    "device": str(self.device),
                    "threads": self.threads,
                    "precision": self.precision,
                    "world_size": self.ctx.world_size,
                },
            )
            merge_metrics(self.run_dir, "run", summary)
        return TrainResult(
            model=self.model,
            config=self.config,
            history=History(s.history),
            run_dir=self.run_dir,
            wall_time_s=s.wall_time_s,
            images_per_s=images_per_s,
            status=status,
            best_epoch=s.best_epoch,
        )


# --------------------------------------------------------------------------- pieces


def with_last(items: Iterable[Tensor]) -> Iterator[tuple[Tensor, bool]]:
    """``(item, is_last)`` pairs, one item ahead: the last step is known even when the
    source cannot say how many there are (an IterableDataset)."""
    it = iter(items)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        yield current, following is None
        current = following
