"""Codes of a dataset split, computed in batches and saved as .npy, .npz (with labels) or .csv.

codes, labels = embed_run("runs/r1", split="test", out="codes.npz")
codes, labels = load_codes("codes.npz")
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from aelab.config import RunConfig
from aelab.data import load_dataset
from aelab.data.splits import DatasetSplits, Split
from aelab.errors import ConfigError, DataError, did_you_mean
from aelab.reuse.inference import TrainedModel, load

SPLITS = ("train", "val", "test")


def run_data(
    config: RunConfig, dataset: str | None = None, *, progress: bool = True
) -> DatasetSplits:
    """The dataset of a run (or ``dataset`` instead, with the run's other data settings),
    split exactly as in training: same seed, same validation hold-out."""
    data_cfg = config.data
    if dataset is not None and dataset != data_cfg.dataset:
        data_cfg = dataclasses.replace(data_cfg, dataset=dataset)
    return load_dataset(data_cfg, seed=config.train.seed, progress=progress)


def get_split(data: DatasetSplits, split: str) -> Split:
    """``data.train`` / ``data.val`` / ``data.test`` by name, with clear errors."""
    if split not in SPLITS:
        raise ConfigError(
            f"split {split!r} is unknown; expected one of {', '.join(SPLITS)}."
            + did_you_mean(split, SPLITS)
        )
    chosen = data.by_name()[split]
    if chosen is None:
        raise DataError(
            f"{data.name} has no '{split}' split: the run's data.validation setting holds none "
            "out. Use --split train or --split test."
        )
    return chosen


def embed_images(
    model: TrainedModel, images: np.ndarray, *, progress: bool = False, desc: str = "embed"
) -> np.ndarray:
    """Codes (N, latent_dim) float32 of ``images`` in batches of ``model.batch_size``;
    a tqdm bar on a terminal when ``progress``."""
    n, step = len(images), model.batch_size
    if n == 0:
        raise DataError("no images to embed: the split is empty.")
    show = progress and sys.stderr.isatty()
    chunks = []
    with tqdm(total=n, desc=desc, unit="img", disable=not show, leave=False) as bar:
        for start in range(0, n, step):
            chunks.append(model.encode(images[start : start + step]))
            bar.update(min(step, n - start))
    return np.concatenate(chunks).astype(np.float32, copy=False)


def _save_npy(path: Path, codes: np.ndarray, labels: np.ndarray | None) -> None:
    np.save(path, codes)


def _save_npz(path: Path, codes: np.ndarray, labels: np.ndarray | None) -> None:
    arrays = {"codes": codes} if labels is None else {"codes": codes, "labels": labels}
    np.savez(path, **arrays)


def _save_csv(path: Path, codes: np.ndarray, labels: np.ndarray | None) -> None:
    columns = [f"z{i}" for i in range(codes.shape[1])]
    table: np.ndarray = codes
    fmt = ["%.9g"] * codes.shape[1]
    if labels is not None:
        columns = ["label", *columns]
        table = np.column_stack([labels.astype(np.float64), codes.astype(np.float64)])
        fmt = ["%d", *fmt]
    np.savetxt(path, table, delimiter=",", header=",".join(columns), comments="", fmt=fmt)


_WRITERS: dict[str, Callable[[Path, np.ndarray, np.ndarray | None], None]] = {
    ".npy": _save_npy,
    ".npz": _save_npz,
    ".csv": _save_csv,
}


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _WRITERS:
        raise ConfigError(
            f"cannot tell the format of {str(path)!r}: expected a file ending in "
            f"{', '.join(_WRITERS)} (.npz and .csv keep the labels)."
        )
    return suffix


def save_codes(path: str | Path, codes: np.ndarray, labels: np.ndarray | None = None) -> Path:
    """Write ``codes`` (N, D) by extension: .npy (codes only), .npz (``codes``, ``labels``)
    or .csv (a ``label`` column first when labels are given, then ``z0..z{D-1}``)."""
    path = Path(path)
    writer = _WRITERS[_suffix(path)]
    if labels is not None and len(labels) != len(codes):
        raise DataError(f"{len(codes)} codes but {len(labels)} labels: they must align.")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(
        path, np.asarray(codes, dtype=np.float32), None if labels is None else np.asarray(labels)
    )
    return path


def load_codes(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read what :func:`save_codes` wrote: (codes float32 (N, D), labels int64 (N,) or None)."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    if suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            labels = f["labels"] if "labels" in f.files else None
            return f["codes"], labels
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if header and header[0] == "label":
        return table[:, 1:].astype(np.float32), table[:, 0].astype(np.int64)
    return table.astype(np.float32), None


def embed_run(
    run_dir: str | Path,
    *,
    dataset: str | None = None,
    split: str = "test",
    out: str | Path | None = None,
    checkpoint: str = "best",
    device: str = "cpu",
    batch_size: int = 1024,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes and labels of ``split`` of the run's dataset (or ``dataset``); saved to ``out``
    when given. Returns (codes (N, latent_dim) float32, labels (N,) int64 or None)."""
    if out is not None:
        _suffix(Path(out))  # fail on a bad file name before any work
    model = load(run_dir, checkpoint=checkpoint, device=device, batch_size=batch_size)
    assert model.config is not None
    chosen = get_split(run_data(model.config, dataset, progress=progress), split)
    codes = embed_images(model, chosen.images, progress=progress, desc=f"embed {split}")
    if out is not None:
        save_codes(out, codes, chosen.labels)
    return codes, chosen.labels
