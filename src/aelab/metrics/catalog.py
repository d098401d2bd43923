"""The metric catalog: every number aelab reports, once.

One :class:`Metric` per number a run's ``metrics.json`` can hold: its ``key`` (the name
tables, CSV columns, ``--rank-by`` and ``--objective`` use), its ``path`` in metrics.json
(``section.field``; a ``*`` segment matches any one name), a short ``label`` for column
headers, its ``definition``, ``unit``, direction (``higher_is_better``: True, False, or
None for a number that is not a score: a count, a duration, a setting), a ``fmt`` for
tables, and ``comparable``: whether it means the same for every run compared, whatever the
family and loss (test MSE does; the model's own loss does not). Rankings ("best") use
comparable scores only.

The report, the comparison tables and CSV, sweep and family-study summaries, tune
objectives and the results page read this table; none lists metric names of its own.
Adding a metric = one entry here + the function that computes it. ``aelab metrics`` prints
the table (``--json`` for scripts), as scikit-learn's ``get_scorer_names`` lists scorers.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aelab.errors import ConfigError, did_you_mean

# The settings the definitions quote. The catalog imports neither torch nor scikit-learn
# (``aelab metrics`` and the report start fast); tests/unit/metrics/test_catalog.py checks
# these against the modules that own them.
BCE_EPS = 1e-7  # aelab.metrics.reconstruction
ACTIVE_THRESHOLD, KL_ACTIVE_THRESHOLD = 1e-6, 0.01  # aelab.metrics.code
REPRESENTATIONS = ("autoencoder", "pca", "pixels")  # aelab.metrics.downstream
KNN_K, LOGREG_MAX_ITER, KMEANS_N_INIT = 5, 100, 10  # aelab.metrics.downstream
AGREEMENT = ("nmi", "ari", "acc")  # aelab.metrics.clustering
ANOMALY_BASELINES = ("pca", "ocsvm", "iforest")  # aelab.metrics.anomaly_baselines
PCA_FIT_SAMPLES = 10_000  # aelab.metrics.baselines

KINDS = ("score", "info", "setting")


@dataclass(frozen=True)
class Metric:
    """One number aelab reports. See the module docstring for the fields."""

    key: str
    path: str
    label: str
    definition: str
    higher_is_better: bool | None = None
    unit: str = ""
    fmt: str = ".4g"
    comparable: bool = False
    kind: str = "score"
    aliases: tuple[str, ...] = ()

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def direction(self) -> str | None:
        """``maximize``, ``minimize`` or None (not a score)."""
        if self.higher_is_better is None:
            return None
        return "maximize" if self.higher_is_better else "minimize"

    @property
    def is_pattern(self) -> bool:
        return "*" in self.path

    def best(self, values: list[Any]) -> Any:
        """The best of ``values`` by this metric's direction (None when there is none)."""
        numbers = [v for v in values if _is_number(v)]
        if not numbers or self.higher_is_better is None:
            return None
        return max(numbers) if self.higher_is_better else min(numbers)

    def better(self, a: float, b: float) -> bool:
        """Is ``a`` strictly better than ``b``?"""
        return a > b if self.higher_is_better else a < b

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out["section"] = self.section
        out["direction"] = self.direction
        return out


@dataclass(frozen=True)
class Section:
    """A section of metrics.json: its title on pages and the command that writes it."""

    name: str
    title: str
    written_by: str


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("run", "Training", "training (`aelab train`)"),
        Section(
            "reconstruction", "Reconstruction (test split)", "evaluation (`aelab evaluate RUN`)"
        ),
        Section("code", "Code statistics (test split)", "evaluation (`aelab evaluate RUN`)"),
        Section("pca", "PCA baseline (same code size)", "evaluation (`aelab evaluate RUN`)"),
        Section("downstream", "Linear, k-NN and k-means probes", "`aelab probe RUN`"),
        Section("cluster", "Clustering (test split)", "`aelab cluster RUN`"),
        Section("anomaly", "Anomaly detection (test split)", "`aelab anomaly`"),
    )
}


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


# --------------------------------------------------------------------------- the entries

_PIXELS = "pixels in [0, 1]"
_RECON = {
    "bce": (
        "BCE",
        f"Binary cross-entropy per pixel, -[x log p + (1-x) log(1-p)] with p clamped to "
        f"[{BCE_EPS:g}, 1-{BCE_EPS:g}], averaged over the pixels of an image, then over images.",
        False,
        "nats per pixel",
        ".4f",
    ),
    "mse": (
        "MSE",
        "Mean squared error (p - x)^2 over the pixels of an image (pixels in [0, 1]), "
        "averaged over images.",
        False,
        f"per pixel, {_PIXELS}",
        ".5f",
    ),
    "mae": (
        "MAE",
        "Mean absolute error |p - x| over the pixels of an image (pixels in [0, 1]), "
        "averaged over images.",
        False,
        f"per pixel, {_PIXELS}",
        ".5f",
    ),
    "psnr": (
        "PSNR dB",
        "Peak signal-to-noise ratio 10 log10(1 / MSE) in dB per image (data range 1), "
        "averaged over images (torchmetrics); inf when some image is reconstructed exactly.",
        True,
        "dB",
        ".2f",
    ),
    "ssim": (
        "SSIM",
        "Structural similarity per image (torchmetrics, Gaussian window 11 and sigma 1.5, "
        "data range 1, channels averaged), averaged over images; 1 is identical.",
        True,
        "[-1, 1]",
        ".4f",
    ),
}


def _reconstruction() -> list[Metric]:
    out = [
        Metric(
            "test_loss",
            "reconstruction.loss",
            "test loss",
            "The model's own training objective on the test split, as its config defines it "
            "(reconstruction term with its loss and reduction, plus any sparsity or KL term), "
            "averaged over images; evaluation mode, so no input corruption. Differs between "
            "losses and families: never ranked across runs.",
            False,
            "the run's loss",
            ".4f",
        )
    ]
    for field, (label, definition, higher, unit, fmt) in _RECON.items():
        out.append(
            Metric(
                f"test_{field}",
                f"reconstruction.{field}",
                f"test {label}",
                definition,
                higher,
                unit,
                fmt,
                comparable=True,
            )
        )
    out += [
        Metric(
            "test_psnr_infinite",
            "reconstruction.psnr_infinite",
            "PSNR infinite",
            "True when some test image is reconstructed exactly (its PSNR is infinite); "
            "test_psnr is then reported as inf.",
            kind="info",
        ),
        Metric(
            "test_images",
            "reconstruction.n_images",
            "test images",
            "Number of test images evaluated.",
            fmt=",",
            kind="info",
        ),
    ]
    return out


def _run() -> list[Metric]:
    def info(key: str, field: str, label: str, definition: str, fmt: str = "") -> Metric:
        return Metric(key, f"run.{field}", label, definition, fmt=fmt, kind="info")

    return [
        info("name", "name", "run", "The run's name (config name, preset or folder)."),
        info("preset", "preset", "preset", "The preset the run was built from, if any."),
        info("dataset", "dataset", "dataset", "The dataset the run was trained on (data.dataset)."),
        info("family", "family", "family", "The model family (model.family)."),
        info("regularizer", "regularizer", "regulariser", "The code regulariser, if any."),
        info("latent_dim", "latent_dim", "code", "Size of the code (model.latent_dim)."),
        info("parameters", "parameters", "params", "Trainable parameters of the model.", ","),
        info("epochs_planned", "epochs", "epochs planned", "train.epochs of the config."),
        info("epochs", "epochs_completed", "epochs", "Epochs trained."),
        info("status", "status", "status", "completed, stopped (early or NaN) or interrupted."),
        info("best_epoch", "best_epoch", "best epoch", "Epoch of the lowest validation loss."),
        Metric(
            "best_val_loss",
            "run.best_val_loss",
            "best val loss",
            "Lowest validation loss over the epochs (the run's own loss; training loss when the "
            "run has no validation split). Differs between losses and families.",
            False,
            "the run's loss",
            ".4f",
            aliases=("val_loss",),
        ),
        Metric(
            "final_train_loss",
            "run.final_train_loss",
            "train loss",
            "Training loss of the last epoch (the run's own loss, with regularisers).",
            False,
            "the run's loss",
            ".4f",
        ),
        Metric(
            "final_val_loss",
            "run.final_val_loss",
            "val loss",
            "Validation loss of the last epoch (the run's own loss).",
            False,
            "the run's loss",
            ".4f",
        ),
        Metric(
            "train_time_s",
            "run.wall_time_s",
            "train s",
            "Wall time of training (all epochs, validation included), seconds.",
            unit="s",
            fmt=".1f",
            kind="info",
        ),
        Metric(
            "images_per_s",
            "run.images_per_s",
            "images/s",
            "Training images processed per second of training wall time.",
            unit="images/s",
            fmt=",.0f",
            kind="info",
        ),
        info("device", "device", "device", "The device trained on."),
        info("threads", "threads", "threads", "CPU threads of the training process."),
        info("precision", "precision", "precision", "fp32, bf16 or fp16 (autocast)."),
        info("world_size", "world_size", "processes", "DDP processes (1 without torchrun)."),
        info("aelab_version", "aelab_version", "aelab", "aelab's version."),
        info("torch_version", "torch_version", "torch", "PyTorch's version."),
        info("git_commit", "git_commit", "commit", "The git commit of aelab, when known."),
        info("machine", "machine", "machine", "Operating system, architecture and CPUs."),
        info("finished_at", "finished_at", "finished", "When training finished (UTC)."),
    ]


def _code() -> list[Metric]:
    return [
        Metric("code_dim", "code.latent_dim", "code size", "Size of the code.", kind="info"),
        Metric(
            "l0",
            "code.mean_l0",
            "L0",
            f"Active units per image (|z_j| > {ACTIVE_THRESHOLD:g}), averaged over test images.",
            None,
            "units",
            ".1f",
            kind="info",
        ),
        Metric(
            "dead_units",
            "code.dead_units",
            "dead",
            f"Units never active (|z_j| <= {ACTIVE_THRESHOLD:g} on every test image).",
            False,
            "units",
            "",
        ),
        Metric(
            "dead_fraction",
            "code.dead_fraction",
            "dead share",
            "dead_units / latent_dim.",
            False,
            "[0, 1]",
            ".3f",
        ),
        Metric(
            "hoyer",
            "code.hoyer",
            "Hoyer",
            "Hoyer sparsity (sqrt(n) - |z|_1 / |z|_2) / (sqrt(n) - 1) per image, averaged; "
            "1 = one active unit, 0 = all units equal in magnitude; an all-zero code counts as 1.",
            None,
            "[0, 1]",
            ".3f",
            kind="info",
        ),
        Metric(
            "mean_activation",
            "code.mean_activation",
            "mean |z_j|",
            "Mean |z_j| over test images, per unit (a list).",
            kind="info",
        ),
        Metric(
            "code_threshold",
            "code.threshold",
            "active threshold",
            "A unit counts as active on an image when |z_j| exceeds this.",
            kind="setting",
        ),
        Metric(
            "kl_per_dim",
            "code.kl_per_dim",
            "KL per dim",
            "VAE: KL(q(z_j|x) || N(0, 1)) = 0.5 (mu^2 + sigma^2 - 1 - log sigma^2) per "
            "dimension, averaged over test images (nats; a list).",
            kind="info",
        ),
        Metric(
            "active_dims",
            "code.active_dims",
            "active dims",
            f"VAE: dimensions whose mean KL exceeds {KL_ACTIVE_THRESHOLD:g} nats.",
            None,
            "dims",
            "",
            kind="info",
        ),
    ]


def _pca() -> list[Metric]:
    out = [
        Metric(
            "pca_dim",
            "pca.latent_dim",
            "PCA components",
            "Components of the PCA baseline (the run's code size).",
            kind="info",
        ),
        Metric(
            "pca_fit_images",
            "pca.fit_images",
            "PCA fitted on",
            "Training samples the PCA baseline was fitted on: the whole training split for "
            "data in memory; for data streamed from a torch Dataset or DataLoader, a stated "
            f"sample: the first {PCA_FIT_SAMPLES:,} of the training order (shuffled by the "
            "seed where the source allows it).",
            unit="images",
            kind="info",
        ),
        Metric(
            "pca_ratio",
            "pca.mse_ratio",
            "MSE / PCA",
            "Autoencoder test MSE / PCA test MSE: below 1 means the autoencoder reconstructs "
            "better than the optimal linear code of the same size. Blank when the code has at "
            "least as many dimensions as the image has pixels (PCA is then exact).",
            False,
            "ratio",
            ".3g",
            comparable=True,
        ),
        Metric(
            "pca_mse_unclipped",
            "pca.mse_unclipped",
            "PCA MSE unclipped",
            "PCA's test MSE before its reconstructions are clipped to [0, 1] (the textbook "
            "number).",
            False,
            f"per pixel, {_PIXELS}",
            ".5f",
            kind="info",
        ),
        Metric(
            "pca_psnr_infinite",
            "pca.psnr_infinite",
            "PCA PSNR infinite",
            "True when PCA reconstructs some test image exactly.",
            kind="info",
        ),
        Metric(
            "pca_ratio_note",
            "pca.mse_ratio_note",
            "ratio note",
            "Why pca_ratio is blank, when it is.",
            kind="info",
        ),
    ]
    for field, (label, definition, higher, unit, fmt) in _RECON.items():
        out.append(
            Metric(
                f"pca_{field}",
                f"pca.{field}",
                f"PCA {label}",
                "PCA baseline: PCA with latent_dim components fitted on the training split "
                "(scikit-learn), test images projected and reconstructed, clipped to [0, 1] and "
                f"scored like the autoencoder. {definition}",
                higher,
                unit,
                fmt,
                kind="info",
            )
        )
    return out


PROBE_DEFINITIONS = {
    "logreg_acc": (
        "logreg acc",
        "Test accuracy of a multinomial logistic regression (L2, C=1, lbfgs, at most "
        f"{LOGREG_MAX_ITER} iterations) fitted on the training split's features.",
    ),
    "knn_acc": (
        f"{KNN_K}-NN acc",
        f"Test accuracy of a {KNN_K}-nearest-neighbour vote (Euclidean, exact) among the "
        "training split's features.",
    ),
    "kmeans_nmi": (
        "k-means NMI",
        f"NMI between k-means clusters (k = classes, {KMEANS_N_INIT} restarts) of the test "
        "features and the test labels.",
    ),
    "kmeans_ari": (
        "k-means ARI",
        f"Adjusted Rand index between k-means clusters (k = classes, {KMEANS_N_INIT} "
        "restarts) of the test features and the test labels.",
    ),
}
REPRESENTATION_NAMES = {
    "autoencoder": "the autoencoder's codes",
    "pca": "PCA at the code's size",
    "pixels": "the raw pixels",
}


def _downstream() -> list[Metric]:
    out = []
    for rep in REPRESENTATIONS:
        for probe, (label, definition) in PROBE_DEFINITIONS.items():
            prefix = "" if rep == "autoencoder" else f"{rep}_"
            out.append(
                Metric(
                    f"{prefix}{probe}",
                    f"downstream.{rep}.{probe}",
                    label if rep == "autoencoder" else f"{label} ({rep})",
                    f"{definition} Features: {REPRESENTATION_NAMES[rep]}.",
                    True,
                    "[0, 1]" if probe != "kmeans_ari" else "[-0.5, 1]",
                    ".4f",
                    comparable=True,
                    kind="score" if rep == "autoencoder" else "info",
                )
            )
    return out


CLUSTER_METHODS = {
    "pixels": "k-means on the raw pixels",
    "pca": "k-means on PCA at the code's size",
    "code": "k-means on the frozen codes",
    "idec": "IDEC: the codes fine-tuned for clustering (Guo et al. 2017)",
    "umap_kmeans": "k-means on the UMAP embedding of the codes",
    "n2d": "N2D: a Gaussian mixture on the UMAP embedding of the codes (McConville et al.)",
}
AGREEMENT_DEFINITIONS = {
    "nmi": ("NMI", "Normalised mutual information between clusters and test labels.", "[0, 1]"),
    "ari": ("ARI", "Adjusted Rand index between clusters and test labels.", "[-0.5, 1]"),
    "acc": (
        "acc",
        "Clustering accuracy: the share of test images whose cluster maps to their class "
        "under the best one-to-one matching (Hungarian algorithm).",
        "[0, 1]",
    ),
}


def _cluster() -> list[Metric]:
    out = []
    for method, what in CLUSTER_METHODS.items():
        for m in AGREEMENT:
            label, definition, unit = AGREEMENT_DEFINITIONS[m]
            out.append(
                Metric(
                    f"cluster_{method}_{m}",
                    f"cluster.scores.{method}.{m}",
                    f"{label} ({method})",
                    f"{definition} Clusters: {what}; fitted on the training split.",
                    True,
                    unit,
                    ".4f",
                    comparable=True,
                    kind="score" if method not in ("pixels", "pca") else "info",
                )
            )

    def info(key: str, path: str, label: str, definition: str, fmt: str = "") -> Metric:
        return Metric(key, f"cluster.{path}", label, definition, fmt=fmt, kind="info")

    out += [
        info(
            "cluster_fit_images",
            "n_fit",
            "fit images",
            "Training images clustering was fitted on.",
            ",",
        ),
        info("cluster_test_images", "n_test", "test images", "Test images scored.", ","),
        info("cluster_dims", "dims.*", "dims", "Dimensions of the features each method clusters."),
        info("cluster_idec_steps", "idec.iterations", "IDEC steps", "IDEC fine-tuning steps run."),
        info(
            "cluster_idec_converged",
            "idec.converged",
            "converged",
            "Whether IDEC met its tolerance.",
        ),
        info(
            "cluster_idec_changed",
            "idec.changed_vs_code",
            "changed vs code",
            "Share of test images whose IDEC cluster differs from the frozen code's k-means.",
            ".3f",
        ),
        info(
            "cluster_idec_history",
            "idec.history",
            "IDEC trace",
            "Per update: step, share changed, KL and reconstruction loss (a list).",
        ),
        Metric(
            "cluster_seconds",
            "cluster.seconds.*",
            "seconds",
            "Wall time of each clustering step, seconds.",
            unit="s",
            fmt=".2f",
            kind="info",
        ),
        Metric(
            "cluster_setting",
            "cluster.settings.*",
            "setting",
            "A clustering setting as run (see `aelab cluster --help`).",
            kind="setting",
        ),
        Metric(
            "cluster_umap_setting",
            "cluster.umap.*",
            "N2D setting",
            "A setting of the N2D step as run: UMAP's, then the Gaussian mixture's, named as "
            "`aelab cluster`'s flags (--umap-neighbors, ...), with the seed and umap-learn's "
            "version.",
            kind="setting",
        ),
    ]
    return out


ANOMALY_SCORES = {
    "reconstruction": "per-image reconstruction MSE",
    "code": "distance of the test code to the normal training codes",
    "combined": "z(log reconstruction MSE) + z(log code distance), z on held-out normal images",
    **{
        name: f"the {name} baseline fitted on the normal training pixels"
        for name in ANOMALY_BASELINES
    },
}


def _anomaly() -> list[Metric]:
    out = []
    for score, what in ANOMALY_SCORES.items():
        baseline = score in ANOMALY_BASELINES
        for m, label, definition in (
            ("auroc", "AUROC", "Area under the ROC curve, anomalies positive."),
            (
                "auprc",
                "AUPRC",
                "Area under the precision-recall curve (average precision), anomalies positive.",
            ),
        ):
            out.append(
                Metric(
                    f"anomaly_{score}_{m}",
                    f"anomaly.{score}.{m}",
                    f"{label} ({score})",
                    f"{definition} Score: {what}.",
                    True,
                    "[0, 1]",
                    ".4f",
                    comparable=True,
                    kind="info" if baseline else "score",
                )
            )
    for m, label, definition, higher in (
        (
            "fpr",
            "FPR",
            "Realised false-positive rate on the normal test images at the threshold.",
            False,
        ),
        (
            "precision",
            "precision",
            "Precision at the calibrated threshold (anomalies positive).",
            True,
        ),
        ("recall", "recall", "Recall at the calibrated threshold (anomalies positive).", True),
        ("f1", "F1", "F1 at the calibrated threshold (anomalies positive).", True),
    ):
        out.append(
            Metric(
                f"anomaly_{m}",
                f"anomaly.threshold.{m}",
                label,
                definition,
                higher,
                "[0, 1]",
                ".4f",
                comparable=True,
            )
        )
    out += [
        Metric(
            "anomaly_info",
            "anomaly.info.*",
            "setting",
            "An anomaly-detection setting as run.",
            kind="setting",
        ),
        Metric(
            "anomaly_counts",
            "anomaly.n_*",
            "images",
            "Images in the anomaly evaluation.",
            fmt=",",
            kind="info",
        ),
    ]
    return out


METRICS: tuple[Metric, ...] = (
    *_run(),
    *_reconstruction(),
    *_code(),
    *_pca(),
    *_downstream(),
    *_cluster(),
    *_anomaly(),
)


def _index() -> dict[str, Metric]:
    index: dict[str, Metric] = {}
    for metric in METRICS:
        for name in (metric.key, *metric.aliases):
            if name in index:
                raise RuntimeError(f"metric catalog: {name!r} is declared twice")
            index[name] = metric
    return index


CATALOG: dict[str, Metric] = {m.key: m for m in METRICS}
_BY_NAME = _index()
_BY_PATH = {m.path: m for m in METRICS if not m.is_pattern}


# --------------------------------------------------------------------------- lookups


def get(name: str) -> Metric:
    """The metric called ``name``: a key (``test_mse``), an alias (``val_loss``) or a path
    (``reconstruction.mse``). Unknown names raise ConfigError with a suggestion."""
    metric = _BY_NAME.get(name) or by_path(name)
    if metric is None:
        raise ConfigError(
            f"unknown metric {name!r}: expected a key of `aelab metrics` "
            "(e.g. test_mse, test_ssim, logreg_acc, cluster_idec_nmi) or its metrics.json path "
            "(reconstruction.mse)." + did_you_mean(name, [*_BY_NAME, *_BY_PATH])
        )
    return metric


def rankable(name: str) -> Metric:
    """``get(name)``, checked to be a score that means the same for every run compared:
    what "best" may be decided by."""
    metric = get(name)
    if metric.higher_is_better is None or not metric.comparable:
        usable = ", ".join(m.key for m in METRICS if m.comparable and m.kind == "score")
        why = (
            "is not a score"
            if metric.higher_is_better is None
            else "depends on each run's own loss, so it does not compare across runs"
        )
        raise ConfigError(f"cannot rank runs by {metric.key}: it {why}; use one of {usable}.")
    return metric


def by_path(path: str) -> Metric | None:
    """The entry describing the metrics.json value at dotted ``path`` (patterns matched one
    segment per ``*``), or None."""
    if path in _BY_PATH:
        return _BY_PATH[path]
    parts = path.split(".")
    for metric in METRICS:
        pattern = metric.path.split(".")
        if (
            metric.is_pattern
            and len(pattern) == len(parts)
            and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern, strict=True))
        ):
            return metric
    return None


def lookup(metrics: Mapping[str, Any], metric: Metric | str) -> Any:
    """The value of ``metric`` in a metrics.json mapping (None when absent). An infinite
    PSNR (stored as null with ``psnr_infinite``) reads as ``inf``."""
    metric = get(metric) if isinstance(metric, str) else metric
    node: Any = metrics
    for part in metric.path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            node = None
            break
        node = node[part]
    if node is None and metric.path.endswith(".psnr"):
        section = metrics.get(metric.section)
        if isinstance(section, Mapping) and section.get("psnr_infinite"):
            return math.inf
    return node


def leaves(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) of a metrics.json mapping; lists are leaves."""
    for name, value in metrics.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from leaves(value, f"{path}.")
        else:
            yield path, value


def undocumented(metrics: Mapping[str, Any]) -> list[str]:
    """The paths of a metrics.json mapping that no catalog entry describes."""
    return [path for path, _ in leaves(metrics) if by_path(path) is None]


def section_metrics(section: str, *, kinds: tuple[str, ...] = KINDS) -> list[Metric]:
    """The catalog's entries of ``section``, in catalog order."""
    return [m for m in METRICS if m.section == section and m.kind in kinds]


def scores(*, comparable: bool | None = None) -> list[Metric]:
    """Every score (a metric with a direction), optionally only the comparable ones."""
    return [
        m
        for m in METRICS
        if m.higher_is_better is not None and (comparable is None or m.comparable == comparable)
    ]


def select(section: str | None = None, *, rankable: bool = False) -> list[Metric]:
    """``aelab metrics`` (``aelab.metrics_catalog``): the catalog, only ``section``'s entries,
    with ``rankable`` only the scores that compare across runs (what ``rank_by`` accepts)."""
    if section is not None and section not in SECTIONS:
        raise ConfigError(
            f"metrics section {section!r} is unknown; expected one of {', '.join(SECTIONS)}."
            + did_you_mean(section, tuple(SECTIONS))
        )
    return [
        m
        for m in METRICS
        if (section is None or m.section == section)
        and (not rankable or (m.comparable and m.higher_is_better is not None))
    ]


def to_json() -> list[dict[str, Any]]:
    """The catalog as JSON-ready dicts (``aelab metrics --json``)."""
    return [m.to_dict() for m in METRICS]


DEFAULT_RANK = "test_mse"

__all__ = [
    "CATALOG",
    "DEFAULT_RANK",
    "METRICS",
    "SECTIONS",
    "Metric",
    "Section",
    "by_path",
    "get",
    "leaves",
    "lookup",
    "rankable",
    "scores",
    "section_metrics",
    "to_json",
    "undocumented",
]
