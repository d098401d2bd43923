"""The run directory: where everything a run produces lives, and how it is read back.

Layout (``runs/<name>/``)::

    config.toml                 the resolved RunConfig (model.input_shape filled)
    history.csv                 one row per epoch: epoch, train_<part>..., val_<part>..., seconds, lr
    metrics.json                one object; each writer merges its own section
    checkpoints/last.safetensors, best.safetensors, last.state.pt
    figures/*.png, report.html  (evaluation)
    tb/                         TensorBoard event files (train.track = ["tensorboard"])

Every write is atomic (temp file + rename) so a killed process never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aelab.errors import CheckpointError

if TYPE_CHECKING:
    from aelab.config import RunConfig

CONFIG = "config.toml"
HISTORY = "history.csv"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"
# What a run directory may contain; --overwrite removes these and nothing else.
RUN_ARTIFACTS = (CONFIG, HISTORY, METRICS, CHECKPOINTS, "figures", "report.html", "tb")
# A run finished when its "run" section says so.
FINISHED = ("completed", "early_stopped")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}); delete it and re-run the evaluation to rebuild it."
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold one JSON object, found {type(data).__name__}.")
    return data


def merge_metrics(run_dir: str | Path, section: str, values: dict[str, Any]) -> dict[str, Any]:
    """Replace ``section`` of metrics.json with ``values`` (read, modify, write atomically).

    Other sections are kept. Returns the whole merged object."""
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


def is_complete(run_dir: str | Path) -> bool:
    """True when training in ``run_dir`` finished (all epochs, or stopped early)."""
    try:
        run = read_metrics(run_dir).get("run", {})
    except CheckpointError:
        return False
    return run.get("status") in FINISHED


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
    try:
        import torch

        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name(0)}"
    except ImportError:  # pragma: no cover
        pass
    return text


def environment() -> dict[str, Any]:
    """Versions, git commit and machine, for metrics.json and checkpoints."""
    import torch

    from aelab import __version__

    return {
        "aelab_version": __version__,
        "torch_version": torch.__version__,
        "git_commit": git_commit(),
        "machine": machine(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
