"""The one-class anomaly-detection protocol.

For a normal class C: train the autoencoder only on class C's training images, score every
test image, and treat the test images of the other classes as anomalies. Two scores, both
"higher = more anomalous":

- ``reconstruction``: per-image mean squared reconstruction error;
- ``code``: distance of the test code to the normal training codes, either the mean
  Euclidean distance to the ``k`` nearest normal codes (``knn``, default) or the distance
  to the mean normal code (``mean``);
- ``combined``: the sum of the two, each first put on a common scale: the log of the score,
  standardised by its mean and standard deviation on held-out normal images (the normal
  class's validation images; without a validation split, its training images, with each
  image's own code left out of its neighbours). The two scores fail on different classes
  (reconstruction error on classes an autoencoder reconstructs too well, code distance on
  classes whose codes spread), so their standardised sum is better than either on average.

Beside them, the classical baselines of ``aelab.metrics.anomaly_baselines`` (PCA
reconstruction error at the code's size, a one-class SVM and an Isolation Forest on the raw
pixels), fitted on the same normal training images. Each score is summarised by AUROC and
AUPRC (anomalies positive); ``run_protocol`` repeats this for several normal classes and
writes a per-class table and ROC curves (of the autoencoder's scores).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from aelab.config import RunConfig
from aelab.data.splits import DatasetSplits, Split
from aelab.errors import ConfigError, DataError, did_you_mean
from aelab.metrics.anomaly import auprc, auroc, roc
from aelab.metrics.anomaly_baselines import (
    BASELINES,
    IFOREST_TREES,
    OCSVM_NU,
    OCSVM_SUBSAMPLE,
    baseline_scores,
)
from aelab.metrics.downstream import flatten
from aelab.report.tables import csv_table, markdown_table
from aelab.reuse.inference import TrainedModel
from aelab.rundir import atomic_write_text
from aelab.training import train
from aelab.viz.roc import roc_curves
from aelab.viz.save import save_figure

SCORES = ("reconstruction", "code", "combined")
BASELINE_SCORES = tuple(BASELINES)
ALL_SCORES = SCORES + BASELINE_SCORES
SHORT = {"reconstruction": "recon", "code": "code", "combined": "combined"} | {
    name: name for name in BASELINE_SCORES
}
CODE_SCORES = ("knn", "mean")
BASELINE_SETTINGS = (
    "on the normal class's training pixels: PCA reconstruction MSE at the code's size; "
    f"OneClassSVM(rbf, gamma='scale', nu={OCSVM_NU}) on {OCSVM_SUBSAMPLE:,} random images; "
    f"IsolationForest({IFOREST_TREES} trees); seed = train.seed"
)


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
    baseline_seconds: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {"class": self.normal_class, "name": self.name}
        for score in ALL_SCORES:
            out[f"{score}_auroc"] = self.metrics[score]["auroc"]
            out[f"{score}_auprc"] = self.metrics[score]["auprc"]
        out |= {
            "n_train": self.n_train,
            "n_test_normal": self.n_test_normal,
            "n_test_anomalous": self.n_test_anomalous,
            "train_seconds": round(self.train_seconds, 2),
        }
        out |= {f"{name}_seconds": round(t, 2) for name, t in self.baseline_seconds.items()}
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
    train = _only(data.train, normal_class)
    val = _only(data.val, normal_class) if data.val is not None else None
    for name, split in (("training", train), ("validation", val)):
        if split is not None and not len(split):
            raise DataError(
                f"{data.name}: class {normal_class} has no {name} images (the {name} split holds "
                f"{len(data.val if name == 'validation' else data.train):,} images), so it cannot "
                "be the normal class; raise data.val_size or data.train_limit, or set "
                "data.validation='none'."
            )
    return dataclasses.replace(data, train=train, val=val)


# --------------------------------------------------------------------------- scores


def code_distance(
    normal_codes: np.ndarray,
    codes: np.ndarray,
    *,
    method: str = "knn",
    k: int = 5,
    leave_self_out: bool = False,
) -> np.ndarray:
    """(M,) distance of each of ``codes`` (M, D) to the normal codes (N, D). With
    ``leave_self_out``, ``codes`` are the normal codes themselves and each one's own entry is
    not counted among its neighbours (nor in the mean)."""
    if method not in CODE_SCORES:
        raise ConfigError(
            f"code score {method!r} is unknown; expected one of {', '.join(CODE_SCORES)}."
            + did_you_mean(method, CODE_SCORES)
        )
    n = len(normal_codes)
    if leave_self_out and n < 2:
        raise DataError("leaving each code out of its own neighbours needs 2 or more codes.")
    if method == "mean":
        if leave_self_out:  # the mean of the other n - 1 codes
            others = (normal_codes.sum(0, keepdims=True) - codes) / (n - 1)
            return np.linalg.norm(codes - others, axis=1)
        return np.linalg.norm(codes - normal_codes.mean(0, keepdims=True), axis=1)
    extra = 1 if leave_self_out else 0
    nn = NearestNeighbors(n_neighbors=min(k + extra, n)).fit(normal_codes)
    distances, _ = nn.kneighbors(codes)
    return distances[:, extra:].mean(1)


def standardise(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """log(scores), standardised by the mean and spread of log(reference): scores of
    different units on one scale, as many reference standard deviations above normal."""
    eps = np.finfo(np.float64).tiny
    log_s = np.log(np.maximum(np.asarray(scores, dtype=np.float64), eps))
    log_r = np.log(np.maximum(np.asarray(reference, dtype=np.float64), eps))
    spread = log_r.std()
    return (log_s - log_r.mean()) / (spread if spread > 0 else 1.0)


def score_model(
    model: TrainedModel,
    normal_train: np.ndarray,
    test: Split,
    normal_class: int,
    *,
    held_out: np.ndarray | None = None,
    code_score: str = "knn",
    k: int = 5,
) -> tuple[dict[str, dict[str, float]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """AUROC/AUPRC and ROC curves of every score for a model trained on ``normal_class``.
    ``held_out``: normal images the model did not train on, the reference scale of the
    combined score (None: the training images, each code left out of its neighbours)."""
    is_anomaly = _labels(test, "test") != normal_class
    train_codes = model.encode(normal_train)
    recon = model.score(test.images)
    code = code_distance(train_codes, model.encode(test.images), method=code_score, k=k)
    if held_out is not None and len(held_out):
        ref_recon = model.score(held_out)
        ref_code = code_distance(train_codes, model.encode(held_out), method=code_score, k=k)
    else:
        ref_recon = model.score(normal_train)
        ref_code = code_distance(
            train_codes, train_codes, method=code_score, k=k, leave_self_out=True
        )
    scores = {
        "reconstruction": recon,
        "code": code,
        "combined": standardise(recon, ref_recon) + standardise(code, ref_code),
    }
    metrics = {
        name: {"auroc": auroc(s, is_anomaly), "auprc": auprc(s, is_anomaly)}
        for name, s in scores.items()
    }
    curves = {name: roc(s, is_anomaly) for name, s in scores.items()}
    return metrics, curves


def score_baselines(
    normal_train: np.ndarray, test: Split, normal_class: int, *, code_dim: int, seed: int = 0
) -> tuple[dict[str, dict[str, float]], dict[str, tuple[np.ndarray, np.ndarray]], dict[str, float]]:
    """AUROC/AUPRC, ROC curves and seconds of every pixel baseline, fitted on the normal
    training images (N, C, H, W) uint8 and scoring the test split."""
    is_anomaly = _labels(test, "test") != normal_class
    fitted = baseline_scores(
        flatten(normal_train) / np.float32(255.0),
        flatten(test.images) / np.float32(255.0),
        code_dim=code_dim,
        seed=seed,
    )
    metrics = {
        name: {"auroc": auroc(s, is_anomaly), "auprc": auprc(s, is_anomaly)}
        for name, (s, _) in fitted.items()
    }
    curves = {name: roc(s, is_anomaly) for name, (s, _) in fitted.items()}
    return metrics, curves, {name: seconds for name, (_, seconds) in fitted.items()}


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

    sub = one_class_data(data, normal_class)
    if len(sub.train) == 0:
        raise DataError(f"class {normal_class} has no training images in {data.name}.")
    start = time.perf_counter()
    result = train(config, run_dir, data=sub, quiet=quiet, overwrite=run_dir is not None)
    seconds = time.perf_counter() - start
    model = TrainedModel(result.model, result.config, device=device)
    held_out = sub.val.images if sub.val is not None else None
    metrics, curves = score_model(
        model,
        sub.train.images,
        data.test,
        normal_class,
        held_out=held_out,
        code_score=code_score,
        k=k,
    )
    base_metrics, base_curves, base_seconds = score_baselines(
        sub.train.images, data.test, normal_class, code_dim=model.latent_dim, seed=config.train.seed
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
        metrics=metrics | base_metrics,
        curves=curves | base_curves,
        baseline_seconds=base_seconds,
    )


# --------------------------------------------------------------------------- reports


def summary(results: list[ClassResult]) -> dict[str, float]:
    """Mean AUROC and AUPRC of each score (and baseline) over the classes."""
    return {
        f"{score}_{m}": float(np.mean([r.metrics[score][m] for r in results]))
        for score in ALL_SCORES
        for m in ("auroc", "auprc")
    }


def to_csv(results: list[ClassResult]) -> str:
    rows = [r.row() for r in results]
    return csv_table(rows, list(rows[0]))


def to_markdown(results: list[ClassResult], *, title: str = "") -> str:
    """A per-class table (AUROC and AUPRC of every autoencoder score, AUROC of every
    baseline) with the mean as its last row."""
    columns = [("class", "class", ""), ("name", "name", "")]
    for s in SCORES:
        columns += [(f"{s}_auroc", f"AUROC ({SHORT[s]})", ".4f")]
        columns += [(f"{s}_auprc", f"AUPRC ({SHORT[s]})", ".4f")]
    columns += [(f"{s}_auroc", f"AUROC ({s})", ".4f") for s in BASELINE_SCORES]
    mean = summary(results)
    mean_row = {**mean, "class": "**mean**", "name": ""}
    for s in ALL_SCORES:
        mean_row[f"{s}_auroc"] = f"**{mean[f'{s}_auroc']:.4f}**"
    rows = [*(r.row() for r in results), mean_row]
    align = ["right", "left", *["right"] * (len(columns) - 2)]
    heading = f"## {title}\n\n" if title else ""
    return heading + markdown_table(rows, columns, align=align)


def write_report(results: list[ClassResult], out_dir: str | Path, *, info: dict) -> dict:
    """Write anomaly.csv, anomaly.md, anomaly.json and roc.png into ``out_dir``."""
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
                f"class {c} ({r.name}): AUROC "
                + "  ".join(f"{SHORT[s]} {r.metrics[s]['auroc']:.4f}" for s in ALL_SCORES)
                + f"  ({r.n_train} normal training images,"
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
        "combined_score": "z(log MSE) + z(log code distance), z on held-out normal images",
        "baselines": BASELINE_SETTINGS,
    }
    payload = {**info, "mean": summary(results), "classes": [r.row() for r in results]}
    if out_dir is not None:
        payload = write_report(results, out_dir, info=info)
    return results, payload
