"""The training loop: plain and visible, like nanoGPT's, and blind to the model family.

Per step: take a batch (an ``index_select`` on a uint8 tensor already on the device),
``model.loss(batch)``, backward, optimizer step. Loss values stay on the device and are
checked for NaN/inf once per window of steps, so there is no host sync per step.
Per epoch: validation under ``inference_mode`` in large batches, a history row, the
schedule, early stopping, the best and last checkpoints (atomic writes).

Reproducibility: the seed drives the initial weights, the noise of denoising models
(the global RNG, forked so the caller's RNG is left untouched), the shuffling
(:func:`aelab.data.batcher.epoch_generator`, a pure function of seed and epoch) and the
data splits (``load_dataset(seed=...)``). A resumed run restores the RNG, optimizer and
history and continues exactly where the uninterrupted run would have been.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from aelab import __version__
from aelab.config import RunConfig, flatten
from aelab.data.batcher import Batcher
from aelab.data.splits import DatasetSplits
from aelab.errors import CheckpointError, ConfigError, TrainingError
from aelab.models.base import Autoencoder
from aelab.models.registry import create_model
from aelab.rundir import (
    CONFIG,
    RUN_ARTIFACTS,
    environment,
    holds_run,
    merge_metrics,
    now_iso,
    write_history,
)
from aelab.training import checkpoint as ckpt
from aelab.training import distributed as ddp
from aelab.training.callbacks import Callback, EpochState
from aelab.training.device import (
    auto_threads,
    autocast,
    cpu_threads,
    resolve_device,
    resolve_precision,
    tune_cpu_allocator,
)
from aelab.training.progress import Progress, format_seconds

# Loss values are checked for NaN/inf (one host sync) once per this many steps.
CHECK_EVERY = 50
# Fields that may change between a run and its resume: how it runs, not what it computes.
RUNTIME_FIELDS = {
    "name",
    "description",
    "train.epochs",
    "train.device",
    "train.precision",
    "train.threads",
    "train.compile",
    "train.checkpoint_every",
    "train.eval_batch_size",
    "train.track",
}


@dataclass
class TrainResult:
    """What :func:`train` returns. ``history`` holds one dict per epoch (history.csv rows)."""

    model: Autoencoder
    config: RunConfig
    history: list[dict[str, float]]
    run_dir: Path | None
    wall_time_s: float
    images_per_s: float
    status: str = "completed"  # completed | early_stopped | stopped (a callback asked)
    best_epoch: int | None = None


# --------------------------------------------------------------------------- public entry


def train(
    config: RunConfig,
    run_dir: str | Path | None,
    *,
    data: DatasetSplits | None = None,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train ``config`` and write the run to ``run_dir`` (``None``: in memory, no files).

    ``data`` defaults to ``load_dataset(config.data, seed=config.train.seed)``.
    ``resume`` continues the run in ``run_dir`` from its last checkpoint; ``overwrite``
    replaces a run already there (otherwise that is an error). Under ``torchrun`` the job
    is data-parallel (see :mod:`aelab.training.distributed`). ``callbacks`` run after each
    epoch (:mod:`aelab.training.callbacks`), after the trackers of ``train.track``.
    """
    ctx = ddp.context_from_env()
    device = resolve_device(config.train.device, ctx.local_rank)
    started = ddp.setup(ctx, device)
    try:
        if data is None:
            from aelab.data import load_dataset

            data = load_dataset(config.data, seed=config.train.seed, progress=not quiet)
        config = with_input_shape(config, data.shape)
        threads = config.train.threads or auto_threads(ctx.world_size)
        if device.type == "cpu":
            tune_cpu_allocator()
        if config.train.track and ctx.is_main:
            from aelab.training.trackers import create_trackers

            callbacks = [*create_trackers(config.train.track, run_dir), *callbacks]
        with cpu_threads(threads):
            run = _Run(config, run_dir, data, ctx, device, threads, quiet, callbacks)
            return run.fit(resume, overwrite)
    finally:
        ddp.teardown(started)


def load_run(
    run_dir: str | Path, *, checkpoint: str = "best", device: str | torch.device = "cpu"
) -> tuple[Autoencoder, RunConfig]:
    """The trained model (eval mode) and config of a run. ``best`` falls back to ``last``."""
    run_dir = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint={checkpoint!r} is invalid: expected 'best' or 'last'.")
    if not (run_dir / CONFIG).exists():
        raise CheckpointError(f"{run_dir} is not a run directory: it has no {CONFIG}.")
    config = RunConfig.load(run_dir / CONFIG)
    path = ckpt.weights_path(run_dir, checkpoint)
    if checkpoint == "best" and not path.exists():
        path = ckpt.weights_path(run_dir, "last")
    if not path.exists():
        raise CheckpointError(
            f"{run_dir} has no checkpoint ({path.name} missing): training did not finish an "
            f"epoch. Resume it with `aelab train --resume {run_dir}`."
        )
    model = create_model(config.model)
    ckpt.load_weights(model, path)
    return model.to(device).eval(), config


def with_input_shape(config: RunConfig, shape: tuple[int, int, int]) -> RunConfig:
    """``config`` with ``model.input_shape`` filled from the data (checked when already set)."""
    current = config.model.input_shape
    if current is not None and tuple(current) != tuple(shape):
        raise ConfigError(
            f"model.input_shape={list(current)} does not match the data ({list(shape)}); "
            "remove model.input_shape from the config to take it from the data."
        )
    model = dataclasses.replace(config.model, input_shape=tuple(shape))
    return dataclasses.replace(config, model=model)


# --------------------------------------------------------------------------- the run


class _Run:
    """One training session: set up, loop over epochs, save. Private to :func:`train`."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path | None,
        data: DatasetSplits,
        ctx: ddp.DistContext,
        device: torch.device,
        threads: int,
        quiet: bool,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        self.tc = config.train
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writes = self.run_dir is not None and ctx.is_main
        self.data = data
        self.ctx = ctx
        self.device = device
        self.threads = threads
        self.precision, self.precision_note = resolve_precision(self.tc.precision, device)
        self.progress = Progress(self.tc.epochs, quiet=quiet or not ctx.is_main)
        if self.tc.batch_size % ctx.world_size:
            raise ConfigError(
                f"train.batch_size={self.tc.batch_size} must be divisible by the number of "
                f"processes ({ctx.world_size}): it is the global batch, split across ranks."
            )
        if self.tc.early_stopping and data.val is None:
            raise ConfigError(
                "train.early_stopping needs validation data, but data.validation='none'; "
                "set data.validation='split' or train.early_stopping=0."
            )

    # -- setup -------------------------------------------------------------------------

    def _prepare_dir(self, resume: bool, overwrite: bool) -> dict[str, Any] | None:
        """Check the run directory; returns the resume state when there is one."""
        if self.run_dir is None:
            if resume:
                raise ConfigError("resume=True needs a run directory to resume from.")
            return None
        run_dir = self.run_dir
        if resume:
            if not (run_dir / CONFIG).exists():
                raise CheckpointError(
                    f"cannot resume {run_dir}: it holds no run ({CONFIG} missing). "
                    f"Start a new run with --out {run_dir}."
                )
            saved = RunConfig.load(run_dir / CONFIG)
            check_same_run(saved, self.config, run_dir)
            path = ckpt.state_path(run_dir)
            state = ckpt.load_state(path) if path.exists() else None
            if self.ctx.is_main and saved != self.config:
                # e.g. extended to more epochs: the folder describes the run it now holds
                self.config.save(run_dir / CONFIG)
            return state
        error: CheckpointError | None = None
        if self.ctx.is_main:
            try:
                self._claim_dir(run_dir, overwrite)
            except CheckpointError as exc:
                error = exc
        # Every rank learns whether rank 0 refused, so none waits forever at a collective.
        if ddp.any_rank(error is not None, self.ctx, self.device):
            raise error or CheckpointError(f"rank 0 refused the run directory {run_dir}.")
        return None

    def _claim_dir(self, run_dir: Path, overwrite: bool) -> None:
        """Rank 0: refuse a folder holding another run (unless overwrite), write config.toml."""
        if holds_run(run_dir) and not overwrite:
            raise CheckpointError(
                f"{run_dir} already holds a run; pass --resume {run_dir} to continue it, "
                "--overwrite to replace it, or choose another --out."
            )
        foreign = run_dir.exists() and not holds_run(run_dir) and any(run_dir.iterdir())
        if foreign and not overwrite:
            raise CheckpointError(
                f"{run_dir} exists and is not empty (and is not a run directory); "
                "choose another --out, or --overwrite to write the run into it."
            )
        clear_run(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.config.save(run_dir / CONFIG)

    def _build(self) -> None:
        """Model, loss module, optimizer, schedule; the RNG is seeded before the init."""
        torch.manual_seed(self.tc.seed)
        self.model = create_model(self.config.model).to(self.device)
        self.part_names = probe_part_names(self.model, self.data, self.device)
        if self.ctx.rank:  # ranks share the init (DDP broadcasts it) but not the noise
            torch.manual_seed(self.tc.seed + 7919 * self.ctx.rank)
        self.loss_module = ddp.LossModule(self.model)
        self.loss_fn: nn.Module = ddp.wrap(self.loss_module, self.ctx, self.device)
        if self.tc.compile:
            self.loss_fn = torch.compile(self.loss_fn)
        self.optimizer = build_optimizer(self.model, self.config)
        self.scheduler = build_scheduler(self.optimizer, self.config)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None

    def _restore(self, state: dict[str, Any]) -> None:
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
            torch.manual_seed(self.tc.seed + 7919 * self.ctx.rank + state["epoch"])

    # -- the callback seam (aelab.training.callbacks) ------------------------------------

    @property
    def state(self) -> EpochState:
        return EpochState.from_state(self._s)

    def request_stop(self, reason: str) -> None:
        """Stop after the current epoch's callbacks (status ``stopped``)."""
        self._s["stopped"], self._s["stop_reason"] = True, reason
        self.progress.message(f"stopping after epoch {self._s['epoch']}: {reason}")

    def _end(self, s: dict[str, Any], start: float, status: str) -> TrainResult:
        result = self._finish(s, start, status=status)
        for callback in self.callbacks:
            callback.on_train_end(self, status)
        return result

    # -- the loop ----------------------------------------------------------------------

    def fit(self, resume: bool, overwrite: bool) -> TrainResult:
        start = time.perf_counter()
        state = self._prepare_dir(resume, overwrite)
        fork_devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            self._build()
            s = self._s = self._initial_state(state)
            self.start, self.wall_before = start, s["wall_time_s"]
            if state is not None:
                self._restore(state)
            self._announce(s)
            for callback in self.callbacks:
                callback.on_train_start(self)
            try:
                self._loop(s)
            except KeyboardInterrupt:
                self.progress.close()
                self._end(s, start, "interrupted")
                where = f" (epoch {s['epoch']})" if s["epoch"] else ""
                if self.writes:
                    self.progress.message(
                        f"interrupted; the last checkpoint{where} is kept. Resume with "
                        f"`aelab train --resume {self.run_dir}`."
                    )
                raise
            except TrainingError:
                self.progress.close()
                self._end(s, start, "diverged")
                raise
            if self.tc.restore_best and s["best_weights"] is not None:
                self.model.load_state_dict(s["best_weights"])
            self.model.eval()
            status = "completed"
            if s["stopped"]:
                status = "stopped" if s.get("stop_reason") else "early_stopped"
            return self._end(s, start, status)

    def _initial_state(self, state: dict[str, Any] | None) -> dict[str, Any]:
        s = {
            "epoch": 0,
            "history": [],
            "best_val": float("inf"),
            "best_epoch": None,
            "bad_epochs": 0,
            "stopped": False,
            "stop_reason": None,
            "wall_time_s": 0.0,
            "train_seconds": 0.0,
            "train_images": 0,
            "best_weights": None,
        }
        if state is not None:
            for key in s:
                if key in state and key != "best_weights":
                    s[key] = state[key]
        return s

    def _announce(self, s: dict[str, Any]) -> None:
        p = self.progress
        describe = getattr(self.model, "describe", None)
        what = describe() if callable(describe) else self.config.model.family
        n_val = len(self.data.val) if self.data.val is not None else 0
        p.message(
            f"training {what} on {self.data.name}: {len(self.data.train)} train / {n_val} val "
            f"images, {count_parameters(self.model):,} parameters, {self.device}"
            + (f" ({plural(self.threads, 'thread')})" if self.device.type == "cpu" else "")
            + f", {self.precision}"
            + (f", {self.ctx.world_size} processes" if self.ctx.enabled else "")
        )
        if self.precision_note:
            p.message(self.precision_note)
        if s["epoch"]:
            p.message(f"resuming {self.run_dir} after epoch {s['epoch']}/{self.tc.epochs}")
        if s["stopped"] or s["epoch"] >= self.tc.epochs:
            p.message(f"{self.run_dir} has finished training; nothing to do.")

    def _loop(self, s: dict[str, Any]) -> None:
        tc, device = self.tc, self.device
        ws = self.ctx.world_size
        batcher = Batcher(
            as_tensor(self.data.train.images),
            tc.batch_size // ws,
            shuffle=tc.shuffle,
            seed=tc.seed,
            device=device,
            rank=self.ctx.rank,
            world_size=ws,
        )
        val = self.data.val
        val_images = as_tensor(val.images)[self.ctx.rank :: ws] if val is not None else None
        val_batcher = (
            Batcher(val_images, tc.eval_batch_size, shuffle=False, device=device)
            if val_images is not None
            else None
        )
        first = s["epoch"] + 1
        for epoch in range(first, tc.epochs + 1):
            if s["stopped"]:
                break
            t0 = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            self.model.train()
            batcher.set_epoch(epoch)
            meter = LossMeter(self.part_names, device, self.ctx)
            self.progress.start_epoch(epoch, len(batcher))
            for x in batcher:
                with autocast(self.precision, device):
                    total, values = self.loss_fn(x)
                self.optimizer.zero_grad(set_to_none=True)
                if self.scaler is not None:
                    self.scaler.scale(total).backward()
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    total.backward()
                    self.optimizer.step()
                if meter.add(values, x.shape[0]):
                    self._check(meter, epoch, len(batcher))
                self.progress.step()
            self._check(meter, epoch, len(batcher))
            train_means = meter.means()
            s["train_seconds"] += time.perf_counter() - t0
            s["train_images"] += meter.count * ws
            row = {"epoch": epoch}
            row |= {f"train_{n}": v for n, v in zip(self.part_names, train_means, strict=True)}
            if val_batcher is not None:
                val_means = self._validate(val_batcher)
                row |= {f"val_{n}": v for n, v in zip(self.part_names, val_means, strict=True)}
            seconds = time.perf_counter() - t0
            row |= {"seconds": seconds, "lr": lr}
            s["history"].append(row)
            s["epoch"] = epoch
            if self.scheduler is not None:
                self.scheduler.step()
            self._select(s, row)
            self.progress.end_epoch(epoch, row, seconds)
            s["wall_time_s"] = self.wall_before + time.perf_counter() - self.start
            for callback in self.callbacks:
                callback.on_epoch_end(self, epoch, row)
            last = epoch == tc.epochs or s["stopped"]
            if self.writes and (epoch % tc.checkpoint_every == 0 or last):
                self._save(s)
            elif self.writes:
                write_history(self.run_dir, s["history"])

    def _check(self, meter: LossMeter, epoch: int, steps: int) -> None:
        bad = meter.flush()
        if bad is None:
            if self.progress.bar is not None:
                self.progress.running_loss(meter.running_loss())
            return
        step, part, value = bad
        kept = (
            f"the last good checkpoint (epoch {epoch - 1}) is kept in {self.run_dir}"
            if self.writes and epoch > 1
            else "no checkpoint was written"
        )
        raise TrainingError(
            f"the loss became {value} at epoch {epoch}, step {step}/{steps} "
            f"(part '{part}'); training stopped and {kept}. Lower train.lr, check the data "
            "for invalid values, or use precision fp32."
        )

    @torch.inference_mode()
    def _validate(self, batcher: Batcher) -> list[float]:
        """Mean loss parts over the validation images (all ranks' shards together)."""
        self.model.eval()
        sums = torch.zeros(len(self.part_names) + 1, device=self.device, dtype=torch.float64)
        for x in batcher:
            with autocast(self.precision, self.device):
                _, values = self.loss_module(x)
            sums[:-1] += values.double() * x.shape[0]
            sums[-1] += x.shape[0]
        ddp.all_reduce_sum(sums, self.ctx)
        totals = sums.tolist()
        return [v / totals[-1] for v in totals[:-1]]

    def _select(self, s: dict[str, Any], row: dict[str, float]) -> None:
        """Best checkpoint and early stopping, on the validation loss."""
        if "val_loss" not in row:
            return
        if row["val_loss"] < s["best_val"] - self.tc.min_delta:
            s["best_val"], s["best_epoch"], s["bad_epochs"] = row["val_loss"], row["epoch"], 0
            # The test set reported as validation (Keras parity) never selects a model.
            if self.config.data.validation != "test":
                if self.writes:
                    path = ckpt.weights_path(self.run_dir, "best")
                    ckpt.save_weights(self.model, path, self.weights_metadata(row["epoch"]))
                if self.tc.restore_best:
                    s["best_weights"] = {
                        k: v.detach().clone() for k, v in self.model.state_dict().items()
                    }
            return
        s["bad_epochs"] += 1
        if self.tc.early_stopping and s["bad_epochs"] >= self.tc.early_stopping:
            s["stopped"] = True
            self.progress.message(
                f"early stopping after epoch {row['epoch']}: no improvement of val_loss for "
                f"{s['bad_epochs']} epochs (best {s['best_val']:.6g} at epoch {s['best_epoch']})"
            )

    # -- saving ------------------------------------------------------------------------

    def weights_metadata(self, epoch: int) -> dict[str, Any]:
        return {
            "format": "aelab-weights",
            "family": self.config.model.family,
            "epoch": epoch,
            "aelab_version": __version__,
            "config": self.config.to_toml(),
        }

    def _save(self, s: dict[str, Any]) -> None:
        """The resume state first (it alone is enough to resume), then the last weights."""
        assert self.run_dir is not None
        state = {k: v for k, v in s.items() if k != "best_weights"}
        state |= {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": ckpt.rng_state(),
            "family": self.config.model.family,
            "config": self.config.to_toml(),
            "aelab_version": __version__,
        }
        ckpt.save_state(ckpt.state_path(self.run_dir), state)
        path = ckpt.weights_path(self.run_dir, "last")
        ckpt.save_weights(self.model, path, self.weights_metadata(s["epoch"]))
        write_history(self.run_dir, s["history"])

    def _finish(self, s: dict[str, Any], start: float, *, status: str) -> TrainResult:
        wall = self.wall_before + time.perf_counter() - start
        images_per_s = s["train_images"] / s["train_seconds"] if s["train_seconds"] else 0.0
        history = s["history"]
        if self.writes:
            write_history(self.run_dir, history)
            merge_metrics(self.run_dir, "run", self.run_summary(s, status, wall, images_per_s))
            if status in ("completed", "early_stopped"):
                took = format_seconds(wall)
                self.progress.message(f"done: {len(history)} epochs in {took}; {self.run_dir}")
        return TrainResult(
            model=self.model,
            config=self.config,
            history=history,
            run_dir=self.run_dir,
            wall_time_s=wall,
            images_per_s=images_per_s,
            status=status,
            best_epoch=s["best_epoch"],
        )

    def run_summary(
        self, s: dict[str, Any], status: str, wall: float, images_per_s: float
    ) -> dict[str, Any]:
        """The "run" section of metrics.json."""
        cfg, history = self.config, s["history"]
        last = history[-1] if history else {}
        assert self.run_dir is not None
        return {
            "name": cfg.name or self.run_dir.name,
            "preset": cfg.preset,
            "dataset": cfg.data.dataset,
            "family": cfg.model.family,
            "regularizer": getattr(self.model, "regularizer", None),
            "latent_dim": cfg.model.latent_dim,
            "parameters": count_parameters(self.model),
            "epochs": cfg.train.epochs,
            "epochs_completed": len(history),
            "status": status,
            "best_epoch": s["best_epoch"],
            "best_val_loss": s["best_val"] if s["best_epoch"] is not None else None,
            "wall_time_s": wall,
            "images_per_s": images_per_s,
            "device": str(self.device),
            "threads": self.threads,
            "precision": self.precision,
            "world_size": self.ctx.world_size,
            **environment(),
            "finished_at": now_iso(),
            "final_train_loss": last.get("train_loss"),
            "final_val_loss": last.get("val_loss"),
        }


# --------------------------------------------------------------------------- pieces


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

    def flush(self) -> tuple[int, str, str] | None:
        """Fold the window into the sums; (step, part, 'nan'|'inf') of the first bad value."""
        k = len(self.sizes)
        if k == 0:
            return None
        rows = self.window[:k]
        finite = torch.isfinite(rows)
        local_bad = not bool(finite.all())
        if ddp.any_rank(local_bad, self.ctx, self.device):
            if local_bad:
                return self._first_bad(rows, finite)
            return self.steps + 1, "loss", "non-finite on another rank"
        weights = torch.tensor(self.sizes, device=self.device, dtype=torch.float64)
        self.sums += weights @ rows.double()
        self.count += sum(self.sizes)
        self.steps += k
        self.sizes.clear()
        return None

    def _first_bad(self, rows: Tensor, finite: Tensor) -> tuple[int, str, str]:
        bad_steps = (~finite).any(dim=1).nonzero()
        i = int(bad_steps[0])
        bad_parts = (~finite[i]).nonzero().flatten().tolist()
        # Name the part that went bad rather than the total it propagates into.
        j = next((p for p in bad_parts if p != 0), bad_parts[0])
        value = float(rows[i, j])
        return self.steps + i + 1, self.names[j], "nan" if value != value else str(value)

    def running_loss(self) -> float:
        return float(self.sums[0]) / max(1, self.count)

    def means(self) -> list[float]:
        """Mean of every part over this epoch's images (summed over ranks)."""
        totals = torch.cat([self.sums, self.sums.new_tensor([self.count])])
        totals = ddp.all_reduce_sum(totals, self.ctx).tolist()
        return [v / totals[-1] for v in totals[:-1]]


def probe_part_names(model: Autoencoder, data: DatasetSplits, device: torch.device) -> list[str]:
    """The names of the loss parts (``loss`` first), from one eval-mode call on two images.

    Run under a forked RNG so probing does not change the random stream of the run."""
    x = torch.from_numpy(np.array(data.train.images[:2])).to(device).float().div_(255.0)
    was_training = model.training
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        model.eval()
        out = model.loss(x)
    model.train(was_training)
    return ["loss", *out.parts]


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD, fused when the device supports it, else foreach."""
    tc = config.train
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs: dict[str, Any] = {"lr": tc.lr, "weight_decay": tc.weight_decay}
    device_type = params[0].device.type if params else "cpu"
    fused = device_type in ("cuda", "cpu") and all(p.is_floating_point() for p in params)
    try:
        return kinds[tc.optimizer](params, fused=fused, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return kinds[tc.optimizer](params, foreach=True, **kwargs)


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


def as_tensor(images: np.ndarray) -> Tensor | np.memmap:
    """A uint8 tensor over ``images`` (copied only when numpy marks it read-only); a
    memory map stays one (the Batcher reads its rows per batch)."""
    if isinstance(images, (Tensor, np.memmap)):
        return images
    if not images.flags.writeable or not images.flags.c_contiguous:
        images = np.array(images, copy=True, order="C")
    return torch.from_numpy(images)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_same_run(saved: RunConfig, config: RunConfig, run_dir: Path) -> None:
    """Resume only the same run: everything but how it runs must match the saved config."""
    a, b = flatten(saved.to_dict()), flatten(config.to_dict())
    diffs = [k for k in sorted(set(a) | set(b)) if k not in RUNTIME_FIELDS and a.get(k) != b.get(k)]
    if diffs:
        shown = "; ".join(f"{k} is {a.get(k)!r} there, {b.get(k)!r} here" for k in diffs[:3])
        raise CheckpointError(
            f"{run_dir} holds a different run ({shown}); resume it with its own config "
            "(`aelab train --resume DIR` alone), or use another --out."
        )


def clear_run(run_dir: Path) -> None:
    """Remove a previous run's files from ``run_dir`` (and nothing else)."""
    import shutil

    for name in RUN_ARTIFACTS:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
