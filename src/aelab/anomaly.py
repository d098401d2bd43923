"""The one-class anomaly-detection protocol.

For a normal class C: train the autoencoder only on class C's training images, score every
test image, and treat the test images of the other classes as anomalies. Two scores, both
"higher = more anomalous":

- ``reconstruction``: per-image mean squared reconstruction error;
- ``code``: distance of the test code to the normal training codes, either the mean
  Euclidean distance to the ``k`` nearest normal codes (``knn``, default) or the distance
  to the mean normal code (``mean``).

Each score is summarised by AUROC and AUPRC (anomalies positive); ``run_protocol`` repeats
this for several normal classes and writes a per-class table and ROC curves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from aelab.config import RunConfig
from aelab.data.splits import DatasetSplits, Split
from aelab.errors import ConfigError, DataError, did_you_mean
from aelab.inference import TrainedModel
from aelab.metrics.anomaly import auprc, auroc, roc

SCORES = ("reconstruction", "code")
CODE_SCORES = ("knn", "mean")


@dataclass
class ClassResult:
    """The outcome for one normal class: ``metrics[score] = {"auroc": .., "auprc": ..}``;
    ``curves[score] = (fpr, tpr)``."""

    normal_class: int
    name: str
    n_train: int
    n_test_normal: int
    n_test_anomalous: int
    train_seconds: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def row(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {"class": self.normal_class, "name": self.name}
        for score in SCORES:
            out[f"{score}_auroc"] = self.metrics[score]["auroc"]
            out[f"{score}_auprc"] = self.metrics[score]["auprc"]
        out |= {
            "n_train": self.n_train,
            "n_test_normal": self.n_test_normal,
            "n_test_anomalous": self.n_test_anomalous,
            "train_seconds": round(self.train_seconds, 2),
        }
        return out


# --------------------------------------------------------------------------- data


def class_index(data: DatasetSplits, normal: int | str) -> int:
    """The label of ``normal``: an integer label, or a class name of ``data.classes``."""
    labels = _labels(data.train, "train")
    present = sorted(int(v) for v in np.unique(labels))
    if isinstance(normal, str) and not normal.lstrip("-").isdigit():
        names = list(data.classes or ())
        if normal not in names:
            raise ConfigError(
                f"normal class {normal!r} is unknown; {data.name} has classes "
                f"{', '.join(f'{i}={n}' for i, n in enumerate(names)) or ', '.join(map(str, present))}."
                + did_you_mean(normal, names)
            )
        return names.index(normal)
    index = int(normal)
    if index not in present:
        raise ConfigError(
            f"normal class {index} has no training images in {data.name}; labels present: "
            f"{', '.join(map(str, present))}."
        )
    return index


def _labels(split: Split, name: str) -> np.ndarray:
    if split.labels is None:
        raise DataError(f"the {name} split has no labels: the one-class protocol needs them.")
    return np.asarray(split.labels)


def _only(split: Split, label: int) -> Split:
    keep = np.flatnonzero(_labels(split, "split") == label)
    return Split(split.images[keep], np.asarray(split.labels)[keep])


def one_class_data(data: DatasetSplits, normal_class: int) -> DatasetSplits:
    """``data`` with train (and validation) reduced to ``normal_class``; test untouched, so
    the other classes in it are the anomalies."""
    val = _only(data.val, normal_class) if data.val is not None else None
    return dataclasses.replace(data, train=_only(data.train, normal_class), val=val)


# --------------------------------------------------------------------------- scores


def code_distance(
    normal_codes: np.ndarray, codes: np.ndarray, *, method: str = "knn", k: int = 5
) -> np.ndarray:
    """(M,) distance of each of ``codes`` (M, D) to the normal codes (N, D)."""
    if method not in CODE_SCORES:
        raise ConfigError(
            f"code score {method!r} is unknown; expected one of {', '.join(CODE_SCORES)}."
            + did_you_mean(method, CODE_SCORES)
        )
    if method == "mean":
        return np.linalg.norm(codes - normal_codes.mean(0, keepdims=True), axis=1)
    nn = NearestNeighbors(n_neighbors=min(k, len(normal_codes))).fit(normal_codes)
    distances, _ = nn.kneighbors(codes)
    return distances.mean(1)


def score_model(
    model: TrainedModel,
    normal_train: np.ndarray,
    test: Split,
    normal_class: int,
    *,
    code_score: str = "knn",
    k: int = 5,
) -> tuple[dict[str, dict[str, float]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """AUROC/AUPRC and ROC curves of both scores for a model trained on ``normal_class``."""
    is_anomaly = _labels(test, "test") != normal_class
    scores = {
        "reconstruction": model.score(test.images),
        "code": code_distance(
            model.encode(normal_train), model.encode(test.images), method=code_score, k=k
        ),
    }
    metrics = {
        name: {"auroc": auroc(s, is_anomaly), "auprc": auprc(s, is_anomaly)}
        for name, s in scores.items()
    }
    curves = {name: roc(s, is_anomaly) for name, s in scores.items()}
    return metrics, curves


def one_class(
    config: RunConfig,
    data: DatasetSplits,
    normal_class: int,
    *,
    run_dir: str | Path | None = None,
    code_score: str = "knn",
    k: int = 5,
    device: str = "cpu",
    quiet: bool = True,
) -> ClassResult:
    """Train ``config`` on ``normal_class`` only (in memory unless ``run_dir``) and score
    the whole test split."""
    from aelab.training import train

    sub = one_class_data(data, normal_class)
    if len(sub.train) == 0:
        raise DataError(f"class {normal_class} has no training images in {data.name}.")
    start = time.perf_counter()
    result = train(config, run_dir, data=sub, quiet=quiet, overwrite=run_dir is not None)
    seconds = time.perf_counter() - start
    model = TrainedModel(result.model, result.config, device=device)
    metrics, curves = score_model(
        model, sub.train.images, data.test, normal_class, code_score=code_score, k=k
    )
    is_normal = _labels(data.test, "test") == normal_class
    names = data.classes or ()
    return ClassResult(
        normal_class=normal_class,
        name=names[normal_class] if normal_class < len(names) else str(normal_class),
        n_train=len(sub.train),
        n_test_normal=int(is_normal.sum()),
        n_test_anomalous=int((~is_normal).sum()),
        train_seconds=seconds,
        metrics=metrics,
        curves=curves,
    )


# --------------------------------------------------------------------------- reports


def summary(results: list[ClassResult]) -> dict[str, float]:
    """Mean AUROC and AUPRC of each score over the classes."""
    return {
        f"{score}_{m}": float(np.mean([r.metrics[score][m] for r in results]))
        for score in SCORES
        for m in ("auroc", "auprc")
    }


def to_csv(results: list[ClassResult]) -> str:
    rows = [r.row() for r in results]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def to_markdown(results: list[ClassResult], *, title: str = "") -> str:
    """A per-class table with the mean as its last row."""
    head = "| class | name | AUROC (recon) | AUPRC (recon) | AUROC (code) | AUPRC (code) |"
    lines = [f"## {title}", ""] if title else []
    lines += [head, "|---:|:---|---:|---:|---:|---:|"]
    for r in results:
        m = r.metrics
        lines.append(
            f"| {r.normal_class} | {r.name} | {m['reconstruction']['auroc']:.4f} | "
            f"{m['reconstruction']['auprc']:.4f} | {m['code']['auroc']:.4f} | "
            f"{m['code']['auprc']:.4f} |"
        )
    s = summary(results)
    lines.append(
        f"| **mean** | | **{s['reconstruction_auroc']:.4f}** | {s['reconstruction_auprc']:.4f} "
        f"| **{s['code_auroc']:.4f}** | {s['code_auprc']:.4f} |"
    )
    return "\n".join(lines) + "\n"


def write_report(results: list[ClassResult], out_dir: str | Path, *, info: dict) -> dict:
    """Write anomaly.csv, anomaly.md, anomaly.json and roc.png into ``out_dir``."""
    from aelab.rundir import atomic_write_text
    from aelab.viz.roc import roc_curves
    from aelab.viz.save import save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = f"one-class anomaly detection · {info.get('preset') or info.get('family', '')} · {info.get('dataset', '')}"
    payload = {**info, "mean": summary(results), "classes": [r.row() for r in results]}
    atomic_write_text(out / "anomaly.csv", to_csv(results))
    atomic_write_text(out / "anomaly.md", to_markdown(results, title=title))
    atomic_write_text(out / "anomaly.json", json.dumps(payload, indent=2) + "\n")
    curves = {
        score: {
            f"{r.normal_class} {r.name}": (*r.curves[score], r.metrics[score]["auroc"])
            for r in results
        }
        for score in SCORES
    }
    save_figure(roc_curves(curves, title=title), out / "roc.png")
    return payload


def run_protocol(
    config: RunConfig,
    data: DatasetSplits,
    classes: list[int | str] | None = None,
    *,
    out_dir: str | Path | None = None,
    save_runs: bool = False,
    code_score: str = "knn",
    k: int = 5,
    device: str = "cpu",
    quiet: bool = False,
) -> tuple[list[ClassResult], dict]:
    """The protocol for each class in ``classes`` (all labels when None). With ``out_dir``
    the tables and ROC figure are written there (and a run dir ``class-<c>`` per class with
    ``save_runs``). Returns the per-class results and the JSON payload."""
    if save_runs and out_dir is None:
        raise ConfigError("save_runs needs an output folder (--out DIR) to hold the runs.")
    labels = sorted(int(v) for v in np.unique(_labels(data.train, "train")))
    chosen = [class_index(data, c) for c in classes] if classes else labels
    results = []
    for c in chosen:
        run_dir = Path(out_dir) / f"class-{c}" if save_runs and out_dir is not None else None
        r = one_class(
            config, data, c, run_dir=run_dir, code_score=code_score, k=k, device=device, quiet=True
        )
        results.append(r)
        if not quiet:
            print(
                f"class {c} ({r.name}): AUROC recon {r.metrics['reconstruction']['auroc']:.4f}"
                f"  code {r.metrics['code']['auroc']:.4f}  ({r.n_train} normal training images,"
                f" {r.train_seconds:.1f}s)",
                flush=True,
            )
    info = {
        "preset": config.preset,
        "family": config.model.family,
        "dataset": data.name,
        "epochs": config.train.epochs,
        "code_score": code_score,
        "k": k,
        "reconstruction_score": "per-image MSE",
    }
    payload = {**info, "mean": summary(results), "classes": [r.row() for r in results]}
    if out_dir is not None:
        payload = write_report(results, out_dir, info=info)
    return results, payload
