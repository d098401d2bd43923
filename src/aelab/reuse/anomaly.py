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
writes a per-class table, ROC curves (of the autoencoder's scores), the most and least
anomalous test images of each class, and the page ``anomaly.html`` showing them. Each class's
result is also a catalog-shaped "anomaly" section (:meth:`ClassResult.section`), merged into
the class's run directory with ``save_runs``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from aelab.config import RunConfig
from aelab.data.splits import DatasetSplits, Split
from aelab.errors import ConfigError, DataError, did_you_mean
from aelab.metrics import catalog
from aelab.metrics.anomaly import auprc, auroc, roc
from aelab.metrics.anomaly_baselines import (
    BASELINES,
    IFOREST_TREES,
    OCSVM_NU,
    OCSVM_SUBSAMPLE,
    baseline_scores,
)
from aelab.metrics.downstream import flatten
from aelab.report.anomaly_page import EXTREMES, MAPS, ROC, render_anomaly_page
from aelab.report.tables import csv_table, markdown_table
from aelab.reuse.detector import (
    SCORES,
    anomaly_maps,
    calibrate,
    code_distance,
    threshold_metrics,
)
from aelab.reuse.inference import TrainedModel
from aelab.reuse.task import TaskContext, TaskResult, run_task
from aelab.rundir import atomic_write_text
from aelab.training import Callback, train
from aelab.viz.anomaly_extremes import anomaly_extremes
from aelab.viz.anomaly_maps import anomaly_maps_figure
from aelab.viz.roc import roc_curves
from aelab.viz.save import save_figure

BASELINE_SCORES = tuple(BASELINES)
ALL_SCORES = SCORES + BASELINE_SCORES
SHORT = {"reconstruction": "recon", "code": "code", "combined": "combined"} | {
    name: name for name in BASELINE_SCORES
}
RANKED_BY = "combined"  # the score whose most and least anomalous test images are shown
EXTREME_IMAGES = 8  # of each kind, per class
MAP_IMAGES = 4  # most and least anomalous test images per class shown with their maps
BASELINE_SETTINGS = (
    "on the normal class's training pixels: PCA reconstruction MSE at the code's size; "
    f"OneClassSVM(rbf, gamma='scale', nu={OCSVM_NU}) on {OCSVM_SUBSAMPLE:,} random images; "
    f"IsolationForest({IFOREST_TREES} trees); seed = train.seed"
)


@dataclass
class ClassResult:
    """The outcome for one normal class: ``metrics[score] = {"auroc": .., "auprc": ..}``;
    ``curves[score] = (fpr, tpr)``; ``scores[score]``: (N,) the autoencoder's score of each
    test image (higher = more anomalous), in test-split order."""

    normal_class: int
    name: str
    n_train: int
    n_test_normal: int
    n_test_anomalous: int
    train_seconds: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    baseline_seconds: dict[str, float] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    # at the calibrated threshold: the catalog's anomaly.threshold.* (fpr, precision, ...)
    threshold: dict[str, float] = field(default_factory=dict)
    detector: object | None = None  # the aelab.reuse.detector.Detector calibrated for it
    # the most then least anomalous test images (MAP_IMAGES each): test indices, the model's
    # reconstructions and anomaly maps (aelab.reuse.detector.anomaly_maps)
    maps: dict[str, np.ndarray] = field(default_factory=dict)

    def section(self, info: dict | None = None) -> dict:
        """The catalog's "anomaly" section of a run's metrics.json (``anomaly_<score>_auroc``
        and friends): every score's AUROC and AUPRC, the image counts and the settings."""
        settings = {"normal_class": self.normal_class, "normal_name": self.name, **(info or {})}
        return {
            **{score: dict(self.metrics[score]) for score in ALL_SCORES},
            **({"threshold": dict(self.threshold)} if self.threshold else {}),
            "n_train": self.n_train,
            "n_test_normal": self.n_test_normal,
            "n_test_anomalous": self.n_test_anomalous,
            "info": {k: v for k, v in settings.items() if v is not None},
        }

    def extremes(
        self, score: str = RANKED_BY, k: int = EXTREME_IMAGES
    ) -> tuple[np.ndarray, np.ndarray]:
        """Test-split indices of the ``k`` most anomalous images (highest ``score`` first)
        and of the ``k`` least anomalous (lowest first)."""
        order = np.argsort(self.scores[score], kind="stable")
        return order[::-1][:k], order[:k]

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
        out |= {f"threshold_{m}": v for m, v in self.threshold.items()}
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


CALIBRATION_SHARE = 0.1  # normal training images held out when validation = the test split


def one_class_data(data: DatasetSplits, normal_class: int) -> DatasetSplits:
    """``data`` with train (and validation) reduced to ``normal_class``; test untouched, so
    the other classes in it are the anomalies.

    The validation images standardise the combined score and calibrate the detector's
    threshold, so they must not be test images: a config that validates on the test split
    (R1's ``data.validation = "test"``, as its reference did) gets, instead, the last
    ``CALIBRATION_SHARE`` of the normal class's training images held out."""
    train = _only(data.train, normal_class)
    val = _only(data.val, normal_class) if data.val is not None else None
    if data.val is not None and np.shares_memory(data.val.images, data.test.images):
        held = max(1, round(len(train) * CALIBRATION_SHARE))
        if len(train) > held:
            train, val = train.take(slice(0, len(train) - held)), train.take(slice(-held, None))
        else:
            val = None
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
) -> tuple[
    dict[str, dict[str, float]], dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]
]:
    """AUROC/AUPRC, ROC curves and per-image test scores of every score for a model trained
    on ``normal_class``.
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
    return metrics, curves, scores


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


def protocol_info(
    config: RunConfig, dataset: str, *, code_score: str, k: int, fpr: float = 0.05
) -> dict:
    """The settings of the protocol as run: the "info" of every class's section."""
    return {
        "preset": config.preset,
        "family": config.model.family,
        "dataset": dataset,
        "epochs": config.train.epochs,
        "code_score": code_score,
        "k": k,
        "target_fpr": fpr,
        "reconstruction_score": "per-image MSE",
        "combined_score": "z(log MSE) + z(log code distance), z on held-out normal images",
        "baselines": BASELINE_SETTINGS,
    }


def evaluate_class(
    model: TrainedModel,
    data: DatasetSplits,
    normal_class: int,
    *,
    code_score: str = "knn",
    k: int = 5,
    seed: int = 0,
    fpr: float = 0.05,
) -> ClassResult:
    """Score the whole test split with ``model`` (trained on ``normal_class`` only) and with
    the pixel baselines fitted on that class's training images; calibrate a detector of the
    ``RANKED_BY`` score at false-positive rate ``fpr`` and measure it at its threshold."""

    sub = one_class_data(data, normal_class)
    held_out = sub.val.images if sub.val is not None else None
    metrics, curves, scores = score_model(
        model,
        sub.train.images,
        data.test,
        normal_class,
        held_out=held_out,
        code_score=code_score,
        k=k,
    )
    base_metrics, base_curves, base_seconds = score_baselines(
        sub.train.images, data.test, normal_class, code_dim=model.latent_dim, seed=seed
    )
    is_normal = _labels(data.test, "test") == normal_class
    names = data.classes or ()
    detector = calibrate(
        model, sub.train.images, held_out, fpr=fpr, score=RANKED_BY, k=k,
        code_score=code_score, dataset=data.name, normal_class=normal_class,
    )  # fmt: skip
    order = np.argsort(scores[RANKED_BY], kind="stable")
    shown = np.concatenate([order[::-1][:MAP_IMAGES], order[:MAP_IMAGES]])
    images = data.test.images[shown]
    return ClassResult(
        normal_class=normal_class,
        name=names[normal_class] if normal_class < len(names) else str(normal_class),
        n_train=len(sub.train),
        n_test_normal=int(is_normal.sum()),
        n_test_anomalous=int((~is_normal).sum()),
        train_seconds=0.0,
        maps={
            "index": shown,
            "reconstructions": model.reconstruct(images),
            "maps": anomaly_maps(model, images),
        },
        metrics=metrics | base_metrics,
        curves=curves | base_curves,
        baseline_seconds=base_seconds,
        scores=scores,
        threshold=threshold_metrics(detector.decide(scores[RANKED_BY]), ~is_normal),
        detector=detector,
    )


class AnomalyTask:
    """The one-class scores of a run trained on one normal class, as a downstream task:
    section "anomaly" (the catalog's ``anomaly_<score>_auroc`` ...), figures ``roc`` and
    ``extremes`` and the per-image test scores ``scores.csv`` in ``RUN/anomaly/``."""

    name = section = "anomaly"

    def __init__(
        self, normal_class: int | str, *, code_score: str = "knn", k: int = 5, fpr: float = 0.05
    ):
        self.normal_class, self.code_score, self.k = normal_class, code_score, k
        self.fpr = fpr

    def compute(self, context: TaskContext) -> TaskResult:
        data = context.data
        normal = class_index(data, self.normal_class)
        r = evaluate_class(
            context.model,
            data,
            normal,
            code_score=self.code_score,
            k=self.k,
            seed=context.config.train.seed,
            fpr=self.fpr,
        )
        info = protocol_info(
            context.config, data.name, code_score=self.code_score, k=self.k, fpr=self.fpr
        )
        title = context.title(f"normal class {normal} {r.name}")
        figures = {
            "roc": roc_curves(_curves([r]), title=title),
            "extremes": draw_extremes([r], data.test, data.classes or (), title=title),
            "maps": draw_maps([r], data.test, title=title),
        }
        return TaskResult(
            r.section(info),
            figures=figures,
            files={"scores.csv": _scores_csv(r, data.test)},
            detail=r,
        )


def _scores_csv(result: ClassResult, test: Split) -> str:
    """One row per test image: its index, label and every autoencoder score."""
    rows = [
        {"index": i, "label": int(label), **{s: float(result.scores[s][i]) for s in SCORES}}
        for i, label in enumerate(_labels(test, "test"))
    ]
    return csv_table(rows, ["index", "label", *SCORES])


class ClassProgress(Callback):
    """A status line on stderr after every epoch of one class's training, so a protocol of
    ten classes is never silent for minutes: ``class 3 (Dress): epoch 2/10 train_loss ...``."""

    def __init__(self, label: str, epochs: int) -> None:
        self.label, self.epochs, self.start = label, epochs, time.perf_counter()

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        losses = "  ".join(
            f"{k} {logs[k]:.4f}"
            for k in ("train_loss", "val_loss")
            if isinstance(logs.get(k), float) and math.isfinite(logs[k])
        )
        took = time.perf_counter() - self.start
        print(
            f"{self.label}: epoch {epoch}/{self.epochs}  {losses}  ({took:.1f}s)",
            file=sys.stderr,
            flush=True,
        )


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
    fpr: float = 0.05,
) -> ClassResult:
    """Train ``config`` on ``normal_class`` only and score the whole test split: in memory,
    or into ``run_dir`` followed by the :class:`AnomalyTask` there (its metrics.json gets
    the class's "anomaly" section, its report shows it, and ``RUN/detector.json`` holds the
    detector calibrated at ``fpr``)."""
    sub = one_class_data(data, normal_class)
    start = time.perf_counter()
    progress = []
    if not quiet:  # one line per epoch, prefixed with the class, not the trainer's own bar
        names = data.classes or ()
        name = f" ({names[normal_class]})" if normal_class < len(names) else ""
        progress = [ClassProgress(f"class {normal_class}{name}", config.train.epochs)]
    result = train(
        config, run_dir, data=sub, quiet=True, overwrite=run_dir is not None, callbacks=progress
    )
    seconds = time.perf_counter() - start
    if run_dir is None:
        model = TrainedModel(result.model, result.config, device=device)
        r = evaluate_class(
            model, data, normal_class, code_score=code_score, k=k, seed=config.train.seed, fpr=fpr
        )
    else:  # the weights just trained ("last"), as the in-memory path scores them
        task = AnomalyTask(normal_class, code_score=code_score, k=k, fpr=fpr)
        done = run_task(task, run_dir, data=data, checkpoint="last", device=device, progress=False)
        r = done.detail
        calibration = {**r.detector.calibration, "checkpoint": "last"}  # serve/export use it
        r.detector = dataclasses.replace(r.detector, calibration=calibration)
        r.detector.save(run_dir)
    r.train_seconds = seconds
    return r


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
    baseline; with calibrated detectors, their FPR, precision, recall and F1 at the
    threshold) with the mean as its last row."""
    columns = [("class", "class", ""), ("name", "name", "")]
    for s in SCORES:
        columns += [(f"{s}_auroc", f"AUROC ({SHORT[s]})", ".4f")]
        columns += [(f"{s}_auprc", f"AUPRC ({SHORT[s]})", ".4f")]
    columns += [(f"{s}_auroc", f"AUROC ({s})", ".4f") for s in BASELINE_SCORES]
    mean = summary(results)
    mean_row = {**mean, "class": "**mean**", "name": ""}
    for s in ALL_SCORES:
        mean_row[f"{s}_auroc"] = f"**{mean[f'{s}_auroc']:.4f}**"
    if results and all(r.threshold for r in results):  # the detector at its threshold
        at = mean_section(results)["threshold"]
        for m in at:
            label = catalog.get(f"anomaly.threshold.{m}").label
            columns.append((f"threshold_{m}", f"{label} at threshold", ".3f"))
            mean_row[f"threshold_{m}"] = at[m]
    rows = [*(r.row() for r in results), mean_row]
    align = ["right", "left", *["right"] * (len(columns) - 2)]
    heading = f"## {title}\n\n" if title else ""
    return heading + markdown_table(rows, columns, align=align)


def mean_section(results: list[ClassResult]) -> dict[str, dict[str, float]]:
    """The mean over the classes of each score's AUROC and AUPRC (and of the detector's
    numbers at its threshold), shaped like a section."""
    flat = summary(results)
    out = {s: {m: flat[f"{s}_{m}"] for m in ("auroc", "auprc")} for s in ALL_SCORES}
    if results and all(r.threshold for r in results):
        out["threshold"] = {
            m: float(np.mean([r.threshold[m] for r in results])) for m in results[0].threshold
        }
    return out


def _curves(results: list[ClassResult]) -> dict:
    """``roc_curves``' input: per autoencoder score, each class's (fpr, tpr, AUROC)."""
    return {
        score: {
            f"{r.normal_class} {r.name}": (*r.curves[score], r.metrics[score]["auroc"])
            for r in results
        }
        for score in SCORES
    }


def draw_extremes(
    results: list[ClassResult], test: Split, classes: tuple[str, ...] = (), *, title: str
) -> Figure:
    """The most and least anomalous test images of each normal class by ``RANKED_BY``, each
    labelled with its score and its true class."""
    labels = _labels(test, "test")
    names = [str(n) for n in classes]

    def name(label: int) -> str:
        return names[label] if label < len(names) else str(label)

    rows = {}
    for r in results:
        for kind, index in zip(("most", "least"), r.extremes(), strict=True):
            rows[f"{r.normal_class} {r.name}: {kind}"] = (
                test.images[index],
                r.scores[RANKED_BY][index],
                [name(int(v)) for v in labels[index]],
                labels[index] == r.normal_class,
            )
    return anomaly_extremes(rows, title=title)


def draw_maps(results: list[ClassResult], test: Split, *, title: str) -> Figure:
    """Each normal class's most and least anomalous test images (by ``RANKED_BY``) with the
    model's reconstructions and per-pixel anomaly maps, all maps on one colour scale."""
    labels = _labels(test, "test")
    images, recons, maps, names = [], [], [], []
    for r in results:
        n = len(r.maps["index"]) // 2
        for j, index in enumerate(r.maps["index"]):
            images.append(test.images[index])
            names.append(
                f"{r.normal_class}: {'most' if j < n else 'least'}\n(class {labels[index]})"
            )
        recons.append(r.maps["reconstructions"])
        maps.append(r.maps["maps"])
    return anomaly_maps_figure(
        np.stack(images),
        np.concatenate(recons),
        np.concatenate(maps),
        title=f"{title} · anomaly maps (squared error, smoothed)",
        labels=names,
    )


def write_report(
    results: list[ClassResult],
    out_dir: str | Path,
    *,
    info: dict,
    test: Split | None = None,
    classes: tuple[str, ...] = (),
    runs: bool = False,
) -> dict:
    """Write anomaly.csv, anomaly.md, anomaly.json, roc.png, extremes.png (with ``test``,
    the split the classes were scored on) and the page anomaly.html into ``out_dir``.
    ``runs``: each class has its run directory ``out_dir/class-<c>`` (linked from the page)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = f"one-class anomaly detection · {info.get('preset') or info.get('family', '')} · {info.get('dataset', '')}"
    sections = [
        {
            "class": r.normal_class,
            "name": r.name,
            "run": f"class-{r.normal_class}" if runs else None,
            "anomaly": r.section(info),
        }
        for r in results
    ]
    payload = {
        **info,
        "title": title,
        "ranked_by": RANKED_BY,
        "mean": summary(results),
        "classes": [r.row() for r in results],
        "mean_section": mean_section(results),
        "sections": sections,
    }
    atomic_write_text(out / "anomaly.csv", to_csv(results))
    atomic_write_text(out / "anomaly.md", to_markdown(results, title=title))
    atomic_write_text(out / "anomaly.json", json.dumps(payload, indent=2) + "\n")
    save_figure(roc_curves(_curves(results), title=title), out / ROC)
    if test is not None:
        save_figure(draw_extremes(results, test, classes, title=title), out / EXTREMES)
        save_figure(draw_maps(results, test, title=title), out / MAPS)
    render_anomaly_page(out)
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
    fpr: float = 0.05,
) -> tuple[list[ClassResult], dict]:
    """The protocol for each class in ``classes`` (all labels when None). With ``out_dir``
    the tables, figures and anomaly.html are written there (and with ``save_runs`` a run dir
    ``class-<c>`` per class, its metrics.json holding the class's "anomaly" section). Returns the per-class results and the JSON payload."""
    if save_runs and out_dir is None:
        raise ConfigError("save_runs needs an output folder (--out DIR) to hold the runs.")
    labels = sorted(int(v) for v in np.unique(_labels(data.train, "train")))
    chosen = [class_index(data, c) for c in classes] if classes else labels
    info = protocol_info(config, data.name, code_score=code_score, k=k, fpr=fpr)
    results = []
    for c in chosen:
        run_dir = Path(out_dir) / f"class-{c}" if save_runs and out_dir is not None else None
        r = one_class(
            config, data, c, run_dir=run_dir, code_score=code_score, k=k, device=device,
            quiet=quiet, fpr=fpr,
        )  # fmt: skip
        results.append(r)
        if not quiet:
            print(
                f"class {c} ({r.name}): AUROC "
                + "  ".join(f"{SHORT[s]} {r.metrics[s]['auroc']:.4f}" for s in ALL_SCORES)
                + f"  ({r.n_train} normal training images,"
                f" {r.train_seconds:.1f}s)",
                flush=True,
            )
    payload = {**info, "mean": summary(results), "classes": [r.row() for r in results]}
    if out_dir is not None:
        payload = write_report(
            results, out_dir, info=info, test=data.test, classes=data.classes or (), runs=save_runs
        )
    return results, payload
