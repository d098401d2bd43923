"""Checkpoints that load without executing code, each committed as one atomic unit.

- ``checkpoints/last.state.pt``: everything resume needs, as plain tensors, numbers and
  strings, so ``torch.load(weights_only=True)`` reads it: the model (and best) weights,
  the optimizer, the scheduler, the RNG states, the epoch, the history, the early-stopping
  state, and the epoch and content digest of every weights file it stands for.
- ``checkpoints/<name>.safetensors`` (``last``, ``best``): the model weights, with the
  family, epoch, aelab version and the run's config text in the safetensors metadata.

A checkpoint is committed by :func:`commit`: the state is written first (temp file, fsync,
rename: that rename is the commit), then the weights files it names. A process killed at
any point leaves a committed state whose weights files either match their recorded digest
or are stale; :func:`load_run` then uses the weights inside the state, and a resume
rewrites the stale files (:func:`unmatched_weights`). Weights and state agree by
construction.

:func:`load_run` gives a trained run's model back.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import _remove_duplicate_names, load_model
from safetensors.torch import save as safetensors_bytes
from torch import nn

from aelab import __version__
from aelab.atomic import atomic_write_bytes
from aelab.config import RunConfig, load_toml
from aelab.errors import CheckpointError, ConfigError, StorageError
from aelab.models.base import Autoencoder, ModelConfig
from aelab.models.registry import create_model, family_distribution, is_registered
from aelab.rundir import CHECKPOINTS, CONFIG, saved_config

log = logging.getLogger(__name__)

STATE_FORMAT = 2  # 2: names its weights files (epoch, content sha256), holds the best weights
READABLE_FORMATS = (1, 2)
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

    The weights are those of the run's committed checkpoint: a weights file the resume
    state does not vouch for (a write the process was killed before) is not used.

    ``model``: load the weights into this model instead of one built from the config (a
    ``modules`` model needs it: its config holds no code to rebuild the modules)."""
    run_dir = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint={checkpoint!r} is invalid: expected 'best' or 'last'.")
    if not (run_dir / CONFIG).exists():
        raise CheckpointError(f"{run_dir} is not a run directory: it has no {CONFIG}.")
    state = load_state(state_path(run_dir)) if state_path(run_dir).exists() else None
    records = (state or {}).get("weights", {})
    name = checkpoint
    if name == "best" and "best" not in records and not weights_path(run_dir, "best").exists():
        name = "last"
    path = weights_path(run_dir, name)
    check_family_installed(run_dir, path)  # before the config: its family must be known
    config = RunConfig.load(run_dir / CONFIG)
    if model is None:
        model = create_model(config.model)
    elif model.config.family != config.model.family:
        raise CheckpointError(
            f"{run_dir} holds a {config.model.family!r} model; the model passed to load it "
            f"into is a {model.config.family!r} model."
        )
    if name in records and name in unmatched_weights(run_dir, records):
        assert state is not None
        log.warning(
            "%s is not the committed checkpoint (a write was cut short, or the file was "
            "damaged); using the weights %s holds",
            path,
            STATE_FILE,
        )
        _load_tensors(model, committed_tensors(state, name), state_path(run_dir))
    elif path.exists():
        load_weights(model, path)
    else:
        raise CheckpointError(
            f"{run_dir} has no checkpoint ({path.name} missing): training did not finish an "
            f"epoch. Resume it with `aelab train --resume {run_dir}`."
        )
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


def reopen(run_dir: Path, config: RunConfig, *, save_config: bool) -> dict[str, Any] | None:
    """The resume state of the run in ``run_dir`` that ``config`` continues (None: it has
    not committed an epoch yet); ``save_config`` writes ``config`` (more epochs) there."""
    saved = saved_config(run_dir, config)
    path = state_path(run_dir)
    if path.exists():
        state = load_state(path)
    elif committed := [p.name for p in checkpoint_dir(run_dir).glob("*.safetensors")]:
        raise CheckpointError(
            f"cannot resume {run_dir}: checkpoints/{STATE_FILE} is missing although "
            f"{', '.join(sorted(committed))} exist; restore it, evaluate the weights as they "
            "are, or start over with --overwrite."
        )
    else:
        state = None
    done = state["epoch"] if state else 0
    if config.train.epochs < done:
        raise ConfigError(
            f"cannot resume {run_dir} with train.epochs={config.train.epochs}: it has already "
            f"trained {done} epochs; pass --epochs {done} or more, or --overwrite to start over."
        )
    if save_config and saved != config:
        config.save(run_dir / CONFIG)  # e.g. more epochs: the folder describes its run
    return state


# --------------------------------------------------------------------------- the commit


def commit(
    run_dir: str | Path,
    state: dict[str, Any],
    weights: dict[str, tuple[dict[str, torch.Tensor], int]],
    config: RunConfig,
) -> None:
    """Commit one checkpoint: ``state`` (a Trainer.state_dict()) and the weights files
    ``weights`` (name -> (tensors, epoch); ``last`` is ``state["model"]``).

    The state is written first and names each file's epoch and content digest
    (:func:`weights_digest`); its rename is the commit. Then the files are written (those
    already on disk with the committed content are kept).
    A full disk raises StorageError naming the last complete checkpoint."""
    files = {
        name: (_storable(tensors), {k: str(v) for k, v in weights_metadata(config, epoch).items()})
        for name, (tensors, epoch) in weights.items()
    }
    records = {
        name: {"epoch": weights[name][1], "sha256": weights_digest(*files[name])} for name in files
    }
    best = weights.get("best")
    state = state | {
        "weights": records,
        "best_model": best[0] if best is not None and best[1] != state["epoch"] else None,
    }
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        save_state(state_path(run_dir), state)
    except StorageError as exc:  # the previous state is untouched: it is the last complete one
        previous = _committed_epoch(run_dir)
        kept = f"is epoch {previous}" if previous else "does not exist yet"
        raise StorageError(f"{exc}; the last complete checkpoint {kept}") from None
    for name in unmatched_weights(run_dir, records):
        try:
            atomic_write_bytes(weights_path(run_dir, name), safetensors_bytes(*files[name]))
        except StorageError as exc:
            raise StorageError(
                f"{exc}; the last complete checkpoint is epoch {state['epoch']} (in "
                f"{STATE_FILE}: resume to rewrite {name}.safetensors from it)"
            ) from None


def unmatched_weights(run_dir: str | Path, records: dict[str, dict[str, Any]]) -> list[str]:
    """The weights files (names) that are missing or whose content is not what ``records``
    (a state's ``weights``) committed: left from an earlier epoch by a killed commit, or
    damaged since."""
    return [
        name
        for name, record in records.items()
        if not weights_path(run_dir, name).exists()
        or _file_digest(weights_path(run_dir, name)) != record["sha256"]
    ]


def committed_tensors(state: dict[str, Any], name: str) -> dict[str, torch.Tensor]:
    """The weights a state committed as ``name`` (``last`` or ``best``)."""
    if name == "best" and state.get("best_model") is not None:
        return state["best_model"]
    return state["model"]


def _committed_epoch(run_dir: str | Path) -> int:
    """The epoch of the checkpoint on disk now (0: none), for error messages."""
    try:
        return int(load_state(state_path(run_dir))["epoch"])
    except CheckpointError:
        return 0


def _storable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` as safetensors stores them: shared tensors once (like save_model), contiguous."""
    tensors = dict(tensors)
    for removed in _remove_duplicate_names(tensors).values():
        for name in removed:
            del tensors[name]
    return {k: v.detach().contiguous() for k, v in tensors.items()}


def weights_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """The sha256 of a weights file's content (names, dtypes, shapes, bytes, metadata),
    independent of how the file orders it (safetensors' header order is not stable)."""
    h = hashlib.sha256()
    for key in sorted(metadata):
        h.update(f"{key}={metadata[key]}\0".encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _file_digest(path: Path) -> str | None:
    """:func:`weights_digest` of a weights file; None when it cannot be read."""
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not iterable)
            return weights_digest(tensors, dict(f.metadata() or {}))
    except _LOAD_ERRORS:
        return None


def _load_tensors(model: nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    try:
        model.load_state_dict(tensors)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"the weights in {source} do not match the model built from the config "
            f"({str(exc).splitlines()[0][:300]}); was config.toml edited after training?"
        ) from None


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
    """Write ``model``'s weights to ``path`` atomically (outside a run's commit: export)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = _storable(model.state_dict())
    atomic_write_bytes(path, safetensors_bytes(tensors, {k: str(v) for k, v in metadata.items()}))


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
    start_over = "delete the run folder's checkpoints/ to start over, or --overwrite"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # the unpickler raises anything on stray bytes
        # not torch's text: it advises weights_only=False, which would run the file's code
        raise CheckpointError(
            f"resume state {path} is corrupt ({type(exc).__name__}: not a readable aelab "
            f"resume state); {start_over}."
        ) from None
    if not isinstance(state, dict) or state.get("format") not in READABLE_FORMATS:
        raise CheckpointError(
            f"resume state {path} has an unknown format (expected format {STATE_FORMAT})."
        )
    problem = _state_problem(state)
    if problem:
        raise CheckpointError(f"resume state {path} is damaged ({problem}); {start_over}.")
    return state


def _state_problem(state: dict[str, Any]) -> str | None:
    """What the fields every reader relies on lack (None when they are as written)."""
    epoch = state.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        return f"epoch={epoch!r}, expected an integer >= 0"
    if not isinstance(state.get("model", {}), dict):
        return "its model weights are not a mapping of tensors"
    records = state.get("weights", {})
    if not isinstance(records, dict) or not all(
        isinstance(r, dict) and isinstance(r.get("sha256"), str) for r in records.values()
    ):
        return "its weights records are not {name: {epoch, sha256}}"
    return None


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
