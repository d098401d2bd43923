"""The run directory: where everything a run produces lives, how a run claims, clears or
reopens one, and how it is read back.

Layout (``runs/<name>/``)::

    config.toml                 the resolved RunConfig (model.input_shape filled)
    history.csv                 one row per epoch: epoch, train_<part>..., val_<part>..., seconds, lr
    metrics.json                one object; each writer merges its own section
    checkpoints/last.safetensors, best.safetensors, last.state.pt
    figures/*.png, report.html  (evaluation)
    tb/                         TensorBoard event files (train.track = ["tensorboard"])
    .lock                       flock-ed by the process writing the run; holds its PID

Every write is atomic (:mod:`aelab.atomic`) so a killed process never leaves half a file.

One writer at a time (:func:`run_lock`): training holds the run's lock for its whole
session; evaluate, report and every metrics.json merge take it too, so they are refused
(with the trainer's PID) while the run trains, and training is refused while they write.
Readers (load, export, embed, inference) take no lock: they read the committed checkpoint,
which is consistent at any moment (:mod:`aelab.training.checkpoint`).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aelab import __version__
from aelab.atomic import atomic_write_text, remove_stale_temps
from aelab.config import RunConfig
from aelab.errors import CheckpointError

CONFIG = "config.toml"
LOCK = ".lock"  # held (flock) by the one process writing the run; holds its PID
HISTORY = "history.csv"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"
# The output of the subprocess (or Ray task) that trained the run; it may precede the run's
# files (it is written before training starts) and survives --overwrite.
TRAIN_LOG = "train.log"
# What a run directory may contain; --overwrite removes these and nothing else.
RUN_ARTIFACTS = (CONFIG, HISTORY, METRICS, CHECKPOINTS, "figures", "report.html", "tb")
# A run finished when its "run" section says so ("stopped": a callback asked).
FINISHED = ("completed", "early_stopped", "stopped")
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
    "train.figures",
}


# --------------------------------------------------------------------------- metrics.json


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _json_safe(value.item())
    return value


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """The whole metrics.json as a dict ({} when the run has none yet)."""
    path = Path(run_dir) / METRICS
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    rebuild = "delete it and re-run the evaluation (aelab evaluate RUN) to rebuild it"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CheckpointError(
            f"{path} is not UTF-8 JSON text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); {rebuild}."
        ) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise CheckpointError(f"{path} is not valid JSON ({reason}); {rebuild}.") from None
    problem = metrics_problem(data)
    if problem:
        raise CheckpointError(f"{path} {problem}; {rebuild}.")
    return data


def metrics_problem(data: Any) -> str | None:
    """Why ``data`` is not a metrics.json (one JSON object of sections that are objects,
    every score of the catalog a number or null), or None."""
    from aelab.metrics import catalog

    if not isinstance(data, dict):
        return f"must hold one JSON object of sections, found {type(data).__name__}"
    for name, section in data.items():
        if not isinstance(section, dict):
            return f"section {name!r} must be a JSON object, found {type(section).__name__}"
    for metric in catalog.METRICS:
        if metric.is_pattern:
            continue
        node: Any = data
        parts = metric.path.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict):
                where = ".".join(parts[:depth])
                return f"holds {where} as {type(node).__name__}, expected a JSON object"
            if part not in node:
                break
            node = node[part]
        else:
            number = isinstance(node, (int, float)) and not isinstance(node, bool)
            if metric.kind == "score" and node is not None and not number:
                return f"holds {metric.path} = {node!r:.40}, expected a number or null"
    return None


def merge_metrics(run_dir: str | Path, section: str, values: dict[str, Any]) -> dict[str, Any]:
    """Replace ``section`` of metrics.json with ``values`` (read, modify, write atomically).

    Other sections are kept. Returns the whole merged object. Holds the run's lock, so a
    process training the run (or merging its own section) is never overwritten."""
    with run_lock(run_dir, f"writing {section} metrics in"):
        data = read_metrics(run_dir)
        data[section] = _json_safe(values)
        atomic_write_text(Path(run_dir) / METRICS, json.dumps(data, indent=2) + "\n")
    return data


# --------------------------------------------------------------------------- history.csv


def history_to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of the history; floats written with ``repr`` so they read back bit for bit."""
    if not rows:
        return ""
    columns = list(rows[0])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([repr(row[c]) if isinstance(row[c], float) else row[c] for c in columns])
    return buf.getvalue()


def write_history(run_dir: str | Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(Path(run_dir) / HISTORY, history_to_csv(rows))


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """history.csv as a list of rows: ``epoch`` an int, every other column a float."""
    path = Path(run_dir) / HISTORY
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    rows = []
    for line, raw in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            rows.append({k: int(v) if k == "epoch" else float(v) for k, v in raw.items()})
        except (TypeError, ValueError):
            raise CheckpointError(
                f"{path} line {line} is malformed ({raw}); expected numbers in every column."
            ) from None
    return rows


# --------------------------------------------------------------------------- run folders


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    """``runs/<name or preset or family>-<YYYYmmdd-HHMMSS>``, made unique with a suffix."""
    stem = config.name or config.preset or config.model.family
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{stem}-{stamp}"
    suffix = 2
    while path.exists():
        path = Path(root) / f"{stem}-{stamp}-{suffix}"
        suffix += 1
    return path


def holds_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` already contains a run's files (config or checkpoints)."""
    run_dir = Path(run_dir)
    return (run_dir / CONFIG).exists() or (run_dir / CHECKPOINTS).exists()


def claim(run_dir: Path, config: RunConfig, *, overwrite: bool) -> None:
    """Make ``run_dir`` the home of a new run: refuse a folder holding another run (unless
    ``overwrite``) or foreign files, clear the old run's files, write config.toml."""
    check_claim(run_dir, overwrite=overwrite)
    clear_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / CONFIG)


def check_claim(run_dir: Path, *, overwrite: bool) -> None:
    """Refuse ``run_dir`` for a new run when it holds another run (unless ``overwrite``)
    or foreign files; writes nothing (``aelab train`` asks before loading any data)."""
    if holds_run(run_dir) and not overwrite:
        raise CheckpointError(
            f"{run_dir} already holds a run; pass --resume {run_dir} to continue it, "
            "--overwrite to replace it, or choose another --out."
        )
    foreign = (
        run_dir.exists()
        and not holds_run(run_dir)
        and any(p.name not in (LOCK, TRAIN_LOG) for p in run_dir.iterdir())
    )
    if foreign and not overwrite:
        raise CheckpointError(
            f"{run_dir} exists and is not empty (and is not a run directory); "
            "choose another --out, or --overwrite to write the run into it."
        )


_HELD: dict[Path, int] = {}  # run folders this process has locked -> nesting depth


@contextmanager
def run_lock(run_dir: str | Path | None, action: str, *, create: bool = False) -> Iterator[None]:
    """Be the one process writing ``run_dir`` for the block (None, or a folder that does
    not exist unless ``create``: no-op).

    An exclusive ``flock`` on ``RUN/.lock``, which holds the holder's PID and ``action``
    ("training", "evaluating", ...). The kernel drops it when the process ends, however
    it ends, so a lock is never stale. Another process holding it: CheckpointError naming
    it. Nested use in one process is allowed. Taking it removes the temp files that
    killed writers left behind (no one else can be writing there)."""
    if run_dir is None or not (create or Path(run_dir).is_dir()):
        yield
        return
    run_dir = Path(run_dir)
    key = run_dir.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split() or ["?"]
            doing = " ".join(holder[1:]) or "writing"
            raise CheckpointError(
                f"{run_dir} is in use: process {holder[0]} is {doing} it (it holds "
                f"{run_dir / LOCK}); wait for it to finish or stop it, then try again."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {action}\n".encode(), 0)
        for folder in (run_dir, run_dir / CHECKPOINTS, run_dir / "figures"):
            remove_stale_temps(folder)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def clear_run(run_dir: Path) -> None:
    """Remove a previous run's files from ``run_dir`` (and nothing else)."""
    for name in RUN_ARTIFACTS:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def saved_config(run_dir: Path, config: RunConfig) -> RunConfig:
    """The config saved in ``run_dir``, checked to be the run ``config`` would resume."""
    if not (run_dir / CONFIG).exists():
        raise CheckpointError(
            f"cannot resume {run_dir}: it holds no run ({CONFIG} missing). "
            f"Start a new run with --out {run_dir}."
        )
    saved = RunConfig.load(run_dir / CONFIG)
    check_same_run(saved, config, run_dir)
    return saved


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


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= flatten(v, key + ".")
        else:
            out[key] = v
    return out


def is_complete(run_dir: str | Path) -> bool:
    """True when training in ``run_dir`` finished (all epochs, or stopped early)."""
    try:
        run = read_metrics(run_dir).get("run", {})
    except CheckpointError:
        return False
    return run.get("status") in FINISHED


# --------------------------------------------------------------------------- the run summary


def run_summary(
    config: RunConfig,
    run_dir: Path,
    *,
    status: str,
    history: list[dict[str, float]],
    best_epoch: int | None,
    best_val_loss: float | None,
    model: dict[str, Any],
    runtime: dict[str, Any],
) -> dict[str, Any]:
    """The "run" section of metrics.json: what was trained, how it ended and where.

    ``model``: ``regularizer`` and ``parameters``; ``runtime``: ``wall_time_s``,
    ``images_per_s``, ``device``, ``threads``, ``precision``, ``world_size``."""
    last = history[-1] if history else {}
    return {
        "name": config.name or run_dir.name,
        "preset": config.preset,
        "dataset": config.data.dataset,
        "family": config.model.family,
        "regularizer": model["regularizer"],
        "latent_dim": config.model.latent_dim,
        "parameters": model["parameters"],
        "epochs": config.train.epochs,
        "epochs_completed": len(history),
        "status": status,
        "best_epoch": best_epoch,
        "best_val_loss": best_val_loss,
        **runtime,
        **environment(),
        "finished_at": now_iso(),
        "final_train_loss": last.get("train_loss"),
        "final_val_loss": last.get("val_loss"),
    }


# --------------------------------------------------------------------------- provenance


def git_commit() -> str | None:
    """The git commit of the aelab source tree when it is a checkout, else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def machine() -> str:
    """'Linux x86_64, 2 CPUs' plus the GPU name when CUDA is present."""
    text = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    import torch  # lazily: the CLI's quick commands never reach here

    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def environment() -> dict[str, Any]:
    """Versions, git commit and machine, for metrics.json and checkpoints."""
    import torch

    return {
        "aelab_version": __version__,
        "torch_version": torch.__version__,
        "git_commit": git_commit(),
        "machine": machine(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
