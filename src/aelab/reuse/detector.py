"""A one-class anomaly detector you can ship: a score definition, its calibration on normal
images and a threshold, saved beside the run as ``detector.json`` (+ ``detector.safetensors``).

    detector = calibrate(model, normal_train, normal_val, fpr=0.05)   # model: TrainedModel
    scores = detector.score(model, images)      # (N,) float64, higher = more anomalous
    flags = detector.predict(model, images)     # (N,) bool, True = anomaly
    detector.save("runs/class-7"); Detector.load("runs/class-7")
    maps = anomaly_maps(model, images)          # (N, H, W) where each image is odd

The scores are those of :mod:`aelab.reuse.anomaly` (same formulas, same numbers):
``reconstruction`` (per-image MSE), ``code`` (mean Euclidean distance to the ``k`` nearest
normal training codes, or to their mean) and ``combined`` (z(log MSE) + z(log code
distance), z by the mean and standard deviation of the log-scores on held-out normal images).
The threshold is the (1 - fpr) quantile of the scores of held-out normal images, so that a
normal image is flagged with probability about ``fpr``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save
from sklearn.neighbors import NearestNeighbors

from aelab import __version__
from aelab.atomic import atomic_write_bytes, atomic_write_text
from aelab.errors import CheckpointError, ConfigError, DataError, did_you_mean
from aelab.reuse.inference import TrainedModel

SCORES = ("reconstruction", "code", "combined")
CODE_SCORES = ("knn", "mean")
DETECTOR_FILE = "detector.json"
CODES_FILE = "detector.safetensors"
FORMAT = "aelab-detector"
FORMAT_VERSION = 1
THRESHOLD_METRICS = ("fpr", "precision", "recall", "f1")  # catalog: anomaly.threshold.*
# the parts of each score: which standardisation statistics and which inputs it needs
_PARTS = {
    "reconstruction": ("reconstruction",),
    "code": ("code",),
    "combined": ("reconstruction", "code"),
}
_EPS = np.finfo(np.float64).tiny  # log(0) guard, as aelab.reuse.anomaly.standardise


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


def _log(scores: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(np.asarray(scores, dtype=np.float64), _EPS))


@dataclass(frozen=True, eq=False)
class Detector:
    """A calibrated one-class detector: ``score`` in ``SCORES``, ``k`` neighbours for the
    code distance (``code_score`` "knn" or "mean"), ``log_stats[part] = (mean, std)`` of the
    log-scores on held-out normal images, ``threshold`` (score > threshold = anomaly), the
    ``target_fpr``, ``calibration`` (where it was calibrated: dataset, class, image counts,
    FPR realised on the calibration images) and ``normal_codes`` (N, latent_dim) float32."""

    score_name: str
    threshold: float
    target_fpr: float
    k: int = 5
    code_score: str = "knn"
    log_stats: dict[str, tuple[float, float]] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    normal_codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __post_init__(self) -> None:
        _check_definition(self.score_name, self.k, self.code_score)
        _check_fpr(self.target_fpr)
        if not math.isfinite(self.threshold):
            raise ConfigError(
                f"detector threshold {self.threshold!r} is invalid: expected a finite number."
            )
        if self.score_name == "combined" and not all(
            p in self.log_stats for p in _PARTS["combined"]
        ):
            raise ConfigError(
                "the combined score needs the log statistics of reconstruction and code; "
                f"found {', '.join(self.log_stats) or 'none'}."
            )
        if self.needs_codes and len(self.normal_codes) == 0:
            raise ConfigError(
                f"detector score {self.score_name!r} needs the normal training codes."
            )

    @property
    def needs_codes(self) -> bool:
        return "code" in _PARTS[self.score_name]

    # -- scoring -------------------------------------------------------------------------

    def parts(self, model: TrainedModel, images: Any) -> dict[str, np.ndarray]:
        """The raw per-image scores (N,) the definition combines: "reconstruction" (MSE)
        and/or "code" (distance to the normal codes)."""
        out: dict[str, np.ndarray] = {}
        if "reconstruction" in _PARTS[self.score_name]:
            out["reconstruction"] = np.asarray(model.score(images), dtype=np.float64)
        if self.needs_codes:
            out["code"] = self.code_distance(model.encode(images))
        return out

    def code_distance(self, codes: np.ndarray) -> np.ndarray:
        """(N,) distance of ``codes`` (N, latent_dim) to the normal training codes."""
        return code_distance(self.normal_codes, codes, method=self.code_score, k=self.k)

    def combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The detector's score (N,) float64 from the raw ``parts``."""
        if self.score_name != "combined":
            return np.asarray(parts[self.score_name], dtype=np.float64)
        total = np.zeros(len(parts["reconstruction"]), dtype=np.float64)
        for name in _PARTS["combined"]:
            mean, std = self.log_stats[name]
            total = total + (_log(parts[name]) - mean) / std
        return total

    def score(self, model: TrainedModel, images: Any) -> np.ndarray:
        """Per-image anomaly score (N,) float64, higher = more anomalous."""
        return self.combine(self.parts(model, images))

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """(N,) bool: True where a score is above the threshold (an anomaly)."""
        return np.asarray(scores) > self.threshold

    def predict(self, model: TrainedModel, images: Any) -> np.ndarray:
        """(N,) bool: True for the images the detector flags as anomalies."""
        return self.decide(self.score(model, images))

    # -- persistence ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (without the codes, which go to ``detector.safetensors``)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "aelab_version": __version__,
            "score": self.score_name,
            "definition": describe(self.score_name, self.code_score, self.k),
            "code_score": self.code_score,
            "k": self.k,
            "threshold": self.threshold,
            "target_fpr": self.target_fpr,
            "decision": "anomaly when score > threshold",
            "log_stats": {p: {"mean": m, "std": s} for p, (m, s) in self.log_stats.items()},
            "calibration": dict(self.calibration),
            "normal_codes": {
                "file": CODES_FILE if self.needs_codes else None,
                "shape": list(self.normal_codes.shape),
            },
        }

    def save(self, run_dir: str | Path) -> Path:
        """Write ``RUN/detector.safetensors`` (the normal codes) then ``RUN/detector.json``
        (which names the codes' SHA-256, so a torn pair is detected on load), each atomically."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        payload = self.to_dict()
        if self.needs_codes:
            blob = safetensors_save(
                {"normal_codes": np.ascontiguousarray(self.normal_codes, np.float32)}
            )
            atomic_write_bytes(run_dir / CODES_FILE, blob)
            payload["normal_codes"]["sha256"] = hashlib.sha256(blob).hexdigest()
        path = run_dir / DETECTOR_FILE
        atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, run_dir: str | Path) -> Detector:
        """Read ``RUN/detector.json`` (and its codes); plain JSON and safetensors, no code runs."""
        run_dir = Path(run_dir)
        path = run_dir / DETECTOR_FILE if run_dir.is_dir() else run_dir
        if not path.is_file():
            raise CheckpointError(
                f"{path} does not exist: calibrate a detector first "
                "(aelab anomaly ... --save-runs writes one per class run)."
            )
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path} is not a readable detector file ({exc}).") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CheckpointError(f'{path} is not an aelab detector (no "format": "{FORMAT}").')
        try:
            codes = np.zeros((0, 0), np.float32)
            info = d.get("normal_codes") or {}
            if info.get("file"):
                codes = _read_codes(path.parent / info["file"], info.get("sha256"))
            return cls(
                score_name=str(d["score"]),
                threshold=float(d["threshold"]),
                target_fpr=float(d["target_fpr"]),
                k=int(d["k"]),
                code_score=str(d["code_score"]),
                log_stats={
                    p: (float(v["mean"]), float(v["std"])) for p, v in d["log_stats"].items()
                },
                calibration=dict(d.get("calibration") or {}),
                normal_codes=codes,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{path} is incomplete or malformed ({exc!r}).") from None


def scoring_checkpoint(
    run_dir: str | Path, requested: str | None = None, *, detector: Detector | None = None
) -> str:
    """The checkpoint to score ``run_dir`` with: the one its detector (``detector``, already
    loaded, or read from detector.json) was calibrated on (``calibration.checkpoint``), else
    ``requested`` or "best". Asking for other weights than the calibrated ones is an error:
    the threshold would not hold."""
    run_dir = Path(run_dir)
    if detector is None and (run_dir / DETECTOR_FILE).is_file():
        detector = Detector.load(run_dir)
    calibrated = detector.calibration.get("checkpoint") if detector is not None else None
    if calibrated is None:
        return requested or "best"
    if requested is not None and requested != calibrated:
        raise ConfigError(
            f"{run_dir / DETECTOR_FILE} was calibrated on the {calibrated!r} checkpoint; "
            f"scoring with {requested!r} weights would make its threshold meaningless: pass "
            f"--checkpoint {calibrated} (or leave it out), or recalibrate the detector."
        )
    return str(calibrated)


def _read_codes(path: Path, sha256: str | None) -> np.ndarray:
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read ({exc}); recalibrate the detector.") from None
    if sha256 and hashlib.sha256(blob).hexdigest() != sha256:
        raise CheckpointError(
            f"{path} does not match {DETECTOR_FILE} (SHA-256 differs): recalibrate the detector."
        )
    try:
        return safetensors_load(blob)["normal_codes"].astype(np.float32, copy=False)
    except (SafetensorError, KeyError) as exc:
        raise CheckpointError(f"{path} is corrupt or holds no normal_codes ({exc}).") from None


def describe(score: str, code_score: str = "knn", k: int = 5) -> str:
    """The score definition in words (the ONNX metadata and detector.json carry it)."""
    code = (
        f"mean Euclidean distance of the code to its {k} nearest normal training codes"
        if code_score == "knn"
        else "Euclidean distance of the code to the mean normal training code"
    )
    return {
        "reconstruction": "per-image mean squared reconstruction error",
        "code": code,
        "combined": "z(log MSE) + z(log code distance), code distance = "
        + code
        + "; z by the mean and std of the log-scores on held-out normal images",
    }[score]


def _check_definition(score: str, k: int, code_score: str) -> None:
    if score not in SCORES:
        raise ConfigError(
            f"detector score {score!r} is unknown; expected one of {', '.join(SCORES)}."
            + did_you_mean(score, SCORES)
        )
    if code_score not in CODE_SCORES:
        raise ConfigError(
            f"code score {code_score!r} is unknown; expected one of {', '.join(CODE_SCORES)}."
            + did_you_mean(code_score, CODE_SCORES)
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k={k!r} is invalid: expected an integer of at least 1 neighbour.")


def _check_fpr(fpr: float) -> None:
    if isinstance(fpr, bool) or not isinstance(fpr, (int, float)) or not 0.0 < fpr < 1.0:
        raise ConfigError(
            f"fpr={fpr!r} is invalid: expected a false-positive rate in (0, 1), e.g. 0.05."
        )


def calibrate(
    model: TrainedModel,
    normal_fit_images: Any,
    normal_val_images: Any | None,
    fpr: float = 0.05,
    score: str = "combined",
    k: int = 5,
    *,
    code_score: str = "knn",
    dataset: str | None = None,
    normal_class: int | str | None = None,
) -> Detector:
    """Calibrate a detector on normal images: ``normal_fit_images`` (the model's normal
    training images) give the reference codes of the code distance; ``normal_val_images``
    (normal images the model did not train on) give the standardisation statistics and the
    threshold, the (1 - fpr) quantile of their scores ("higher" interpolation: at most a
    fraction ``fpr`` of them is above it).

    Why the validation images: they are not among the reference codes, so their code
    distance is measured as a new image's would be (a training image's nearest code is its
    own, at distance 0), and the model did not fit them, so their reconstruction error is
    not biased low as the training images' is. Calibrating on training images would set the
    threshold too low and flag more normal images than ``fpr``. Without validation images
    (None or empty) the training images are used, each image's own code left out of its
    neighbours, as :func:`aelab.reuse.anomaly.score_model` does; their reconstruction error
    stays optimistic, so expect a realised FPR above the target then."""
    _check_definition(score, k, code_score)
    _check_fpr(fpr)
    parts_needed = _PARTS[score]
    fit = model.as_images(normal_fit_images)
    held_out = normal_val_images is not None and len(normal_val_images) > 0
    ref = model.as_images(normal_val_images) if held_out else fit
    if len(fit) == 0:
        raise DataError("calibration needs normal training images; found none.")
    codes = (
        model.encode(fit) if "code" in parts_needed else np.zeros((0, model.latent_dim), np.float32)
    )
    ref_parts: dict[str, np.ndarray] = {}
    if "reconstruction" in parts_needed:
        ref_parts["reconstruction"] = np.asarray(model.score(ref), dtype=np.float64)
    if "code" in parts_needed:
        ref_codes = model.encode(ref) if held_out else codes
        ref_parts["code"] = code_distance(
            codes, ref_codes, method=code_score, k=k, leave_self_out=not held_out
        )
    calibration = {
        "dataset": dataset,
        "normal_class": normal_class,
        "n_fit": len(fit),
        "calibration_images": "held-out normal validation images"
        if held_out
        else "normal training images (each code left out of its neighbours)",
    }
    return fit_detector(
        score, codes, ref_parts, fpr, k=k, code_score=code_score, calibration=calibration
    )


def fit_detector(
    score: str,
    normal_codes: np.ndarray,
    reference: dict[str, np.ndarray],
    fpr: float,
    *,
    k: int = 5,
    code_score: str = "knn",
    calibration: dict[str, Any] | None = None,
) -> Detector:
    """The detector of ``score`` from the raw scores ``reference[part]`` (N,) of normal
    calibration images (the parts ``score`` needs: "reconstruction", "code"): their
    log-statistics standardise, their combined scores' (1 - fpr) quantile is the threshold."""
    _check_definition(score, k, code_score)
    _check_fpr(fpr)
    log_stats = {}
    for name in _PARTS[score]:
        log_r = _log(reference[name])
        spread = float(log_r.std())
        log_stats[name] = (float(log_r.mean()), spread if spread > 0 else 1.0)
    codes = np.asarray(normal_codes, dtype=np.float32)
    draft = Detector(score, 0.0, float(fpr), int(k), code_score, log_stats, {}, codes)
    ref_scores = draft.combine(reference)
    threshold = float(np.quantile(ref_scores, 1.0 - fpr, method="higher"))
    info = {
        **(calibration or {}),
        "n_calibration": len(ref_scores),
        "calibration_fpr": float(np.mean(ref_scores > threshold)),
    }
    return dataclasses.replace(
        draft, threshold=threshold, calibration={key: v for key, v in info.items() if v is not None}
    )


def threshold_metrics(flags: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float]:
    """FPR on the normal images, precision, recall and F1 (anomalies positive) of the
    decisions ``flags`` (N,) bool: the catalog's ``anomaly.threshold.*``. Precision is 0
    when nothing is flagged (scikit-learn's zero_division=0)."""
    flags, truth = np.asarray(flags, bool), np.asarray(is_anomaly, bool)
    if flags.shape != truth.shape:
        raise DataError(
            f"{flags.shape[0]} decisions for {truth.shape[0]} labels; expected one each."
        )
    tp = int((flags & truth).sum())
    fp = int((flags & ~truth).sum())
    fn = int((~flags & truth).sum())
    negatives = int((~truth).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "fpr": fp / negatives if negatives else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


# --------------------------------------------------------------------------- anomaly maps


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalised 1-D Gaussian of radius ceil(3 sigma) (float32)."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def smooth(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, H, W) maps blurred by a separable Gaussian of ``sigma`` pixels (reflected
    borders, clipped to the image size); sigma 0 returns them unchanged."""
    if sigma <= 0:
        return maps
    kernel = gaussian_kernel(sigma).to(maps)
    x = maps[:, None]
    for dim in (2, 3):
        size = x.shape[dim]
        r = min(len(kernel) // 2, size - 1)
        k = kernel[len(kernel) // 2 - r : len(kernel) // 2 + r + 1]
        k = k / k.sum()
        if r == 0:
            continue
        pad = (0, 0, r, r) if dim == 2 else (r, r, 0, 0)
        weight = k.view(1, 1, -1, 1) if dim == 2 else k.view(1, 1, 1, -1)
        x = F.conv2d(F.pad(x, pad, mode="reflect"), weight)
    return x[:, 0]


def anomaly_maps(model: TrainedModel, images: Any, sigma: float = 1.0) -> np.ndarray:
    """Per-pixel anomaly maps (N, H, W) float32: the squared reconstruction error averaged
    over channels, smoothed by a Gaussian of ``sigma`` pixels (0: none). Its mean over the
    pixels before smoothing is the image's reconstruction score (MSE)."""
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
        raise ConfigError(f"sigma={sigma!r} is invalid: expected a smoothing width >= 0 pixels.")

    def squared_error(batch: torch.Tensor) -> torch.Tensor:  # as TrainedModel.score
        return (torch.sigmoid(model.model(batch)) - batch).square().mean(1)

    error = model._map(squared_error, model.as_images(images), as_tensor=True).cpu()
    return smooth(error, float(sigma)).numpy().astype(np.float32, copy=False)


__all__ = [
    "CODES_FILE",
    "DETECTOR_FILE",
    "THRESHOLD_METRICS",
    "Detector",
    "anomaly_maps",
    "calibrate",
    "describe",
    "fit_detector",
    "scoring_checkpoint",
    "threshold_metrics",
]
