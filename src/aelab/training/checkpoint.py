"""Checkpoints that load without executing code, written atomically.

- ``checkpoints/<name>.safetensors``: the model weights, with the family, epoch, aelab
  version and the run's config text in the safetensors metadata (self-describing).
- ``checkpoints/last.state.pt``: everything resume needs, as plain tensors, numbers and
  strings, so ``torch.load(weights_only=True)`` reads it: the model and optimizer state,
  the scheduler, the RNG states, the epoch, the history, the early-stopping state.
  It carries its own copy of the weights, so a resume never depends on two files having
  been renamed together.

:func:`load_run` gives a trained run's model back.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model
from torch import nn

from aelab import __version__
from aelab.config import RunConfig, load_toml
from aelab.errors import CheckpointError, ConfigError
from aelab.models.base import Autoencoder, ModelConfig
from aelab.models.registry import create_model, family_distribution, is_registered
from aelab.rundir import CHECKPOINTS, CONFIG, atomic_write_bytes

STATE_FORMAT = 1
STATE_FILE = "last.state.pt"  # the resume state, beside the weights in checkpoints/
_LOAD_ERRORS = (OSError, RuntimeError, ValueError, KeyError, SafetensorError)


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINTS


def weights_path(run_dir: str | Path, name: str) -> Path:
    return checkpoint_dir(run_dir) / f"{name}.safetensors"


def state_path(run_dir: str | Path) -> Path:
    return checkpoint_dir(run_dir) / STATE_FILE


def load_run(
    run_dir: str | Path,
    *,
    checkpoint: str = "best",
    device: str | torch.device = "cpu",
    model: Autoencoder | None = None,
) -> tuple[Autoencoder, RunConfig]:
    """The trained model (eval mode) and config of a run. ``best`` falls back to ``last``.

    ``model``: load the weights into this model instead of one built from the config (a
    ``modules`` model needs it: its config holds no code to rebuild the modules)."""
    run_dir = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint={checkpoint!r} is invalid: expected 'best' or 'last'.")
    if not (run_dir / CONFIG).exists():
        raise CheckpointError(f"{run_dir} is not a run directory: it has no {CONFIG}.")
    path = weights_path(run_dir, checkpoint)
    if checkpoint == "best" and not path.exists():
        path = weights_path(run_dir, "last")
    check_family_installed(run_dir, path)
    config = RunConfig.load(run_dir / CONFIG)
    if not path.exists():
        raise CheckpointError(
            f"{run_dir} has no checkpoint ({path.name} missing): training did not finish an "
            f"epoch. Resume it with `aelab train --resume {run_dir}`."
        )
    if model is None:
        model = create_model(config.model)
    elif model.config.family != config.model.family:
        raise CheckpointError(
            f"{run_dir} holds a {config.model.family!r} model; the model passed to load it "
            f"into is a {model.config.family!r} model."
        )
    load_weights(model, path)
    return model.to(device).eval(), config


def check_family_installed(run_dir: Path, weights: Path) -> None:
    """One clear line when the run's model family is not registered here: which family,
    and which distribution (recorded in the weights at training time) provides it."""
    try:
        family = load_toml(run_dir / CONFIG).get("model", {}).get("family", ModelConfig.family)
    except ConfigError:
        return  # RunConfig.load reports the broken file itself
    if is_registered(family):
        return
    dist = read_weights_metadata(weights).get(DIST_KEY) if weights.exists() else None
    how = (
        f"it comes from the plugin distribution {dist!r}, which is not installed here; "
        f"install it (pip install {dist}) and load again."
        if dist
        else "it was registered by code outside an installed package; import (run) the code "
        "that registers it before loading."
    )
    raise CheckpointError(
        f"{run_dir} was trained with model family {family!r}, which is not registered; {how}"
    )


DIST_KEY = "family_distribution"


def weights_metadata(config: RunConfig, epoch: int) -> dict[str, Any]:
    """What a weights file says about itself: format, family (and the distribution that
    provides it, for plugin families), epoch, version, config."""
    metadata: dict[str, Any] = {
        "format": "aelab-weights",
        "family": config.model.family,
        "epoch": epoch,
        "aelab_version": __version__,
        "config": config.to_toml(),
    }
    dist = family_distribution(config.model.family)
    if dist is not None:
        metadata[DIST_KEY] = dist
    return metadata


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, Any]) -> None:
    """Write ``model``'s weights to ``path`` (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_model(  # channels-last conv weights (see Autoencoder.init_weights) stored contiguous
        model,
        str(tmp),
        metadata={k: str(v) for k, v in metadata.items()},
        force_contiguous=True,
    )
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_weights_metadata(path: str | Path) -> dict[str, str]:
    """The metadata stored with a safetensors file (family, epoch, config, version)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except _LOAD_ERRORS as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a safetensors file ({exc}); "
            f"re-train, or resume from checkpoints/{STATE_FILE}."
        ) from None


def load_weights(
    model: Autoencoder, path: str | Path, *, device: str | torch.device = "cpu"
) -> dict:
    """Load weights from ``path`` into ``model`` (shapes and names must match exactly)."""
    metadata = read_weights_metadata(path)
    family = model.config.family
    if metadata.get("family", family) != family:
        raise CheckpointError(
            f"checkpoint {path} holds a '{metadata['family']}' model, not '{family}'; "
            "load it with the config.toml of its own run."
        )
    try:
        load_model(model, str(path), strict=True, device=str(device))
    except _LOAD_ERRORS as exc:
        what, hint = "the model built from the config", "was config.toml edited after training?"
        if family == "modules":  # Autoencoder.from_modules: the user's own modules
            what = f"the modules given ({model.config.encoder} / {model.config.decoder})"
            hint = "pass the same encoder and decoder the run was trained with."
        raise CheckpointError(
            f"checkpoint {path} does not match {what} ({str(exc).splitlines()[0][:300]}); {hint}"
        ) from None
    return metadata


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Write the resume state (torch.save into memory, then one atomic write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save({"format": STATE_FORMAT, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a resume state with ``torch.load(weights_only=True)`` (never runs code)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"resume state {path} does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (*_LOAD_ERRORS, EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(
            f"resume state {path} is corrupt ({str(exc).splitlines()[0][:200]}); "
            "delete the run folder's checkpoints/ to start over, or --overwrite."
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(
            f"resume state {path} has an unknown format (expected format {STATE_FORMAT})."
        )
    return state


def rng_state() -> dict[str, Any]:
    """The global RNG states (CPU and every CUDA device) as tensors."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
