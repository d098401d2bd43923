"""Deep clustering of a trained run: k-means on its codes, then DEC/IDEC fine-tuning.

DEC (Xie, Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering Analysis",
ICML 2016) keeps k cluster centres mu_j in code space, softly assigns each code z_i with a
Student-t kernel, q_ij ~ (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2), and sharpens the
assignments towards the target p_ij ~ q_ij^2 / f_j (f_j = sum_i q_ij, the soft cluster
size), minimising KL(P || Q) over the encoder and the centres. P is recomputed on the whole
fitting set every ``update_interval`` steps; training stops when fewer than ``tol`` of the
points changed cluster between two updates. IDEC (Guo, Gao, Liu and Yin, "Improved Deep
Embedded Clustering with Local Structure Preservation", IJCAI 2017) keeps the decoder and
minimises L_r + gamma * KL(P || Q) (gamma = 0.1), so the reconstruction term stops the
code space from being distorted or collapsing; here L_r is the model's own ``loss(x)``.

``cluster_model`` scores, on the TEST split, k-means on the raw pixels, on PCA at the
code's size, on the frozen codes, and the IDEC assignments; every k-means is fitted on the
training images (``n_init`` restarts, ``seed``) and assigns the test images, and the frozen
code's k-means is IDEC's starting point. With N2D (``aelab.reuse.n2d``) it also scores
k-means and a Gaussian mixture on the UMAP embedding of the frozen codes (UMAP and mixture
fitted on the training codes, the test codes placed by UMAP's transform). :class:`ClusterTask` is the downstream task
(``aelab.reuse.task``): ``cluster_run`` writes ``RUN_DIR/cluster/`` (cluster.json, cluster.md,
the figures), the "cluster" section of metrics.json and the report. Only the model contract
is used (``encode``, ``loss``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from aelab.data.splits import DatasetSplits
from aelab.errors import DataError
from aelab.metrics.clustering import agreement, changed_fraction
from aelab.metrics.downstream import flatten, pca_features
from aelab.models.apply import image_batches
from aelab.report.interactive import add_map_column
from aelab.report.tables import markdown_table
from aelab.reuse.cluster_config import DEFAULT_CONFIG, ClusterConfig
from aelab.reuse.embed import embed_images
from aelab.reuse.inference import TrainedModel
from aelab.reuse.n2d import N2DResult, check_n2d, n2d
from aelab.reuse.task import TaskContext, TaskResult, run_task, write_result
from aelab.training.device import auto_threads, cpu_threads
from aelab.viz import SECTION_FIGURES
from aelab.viz.code_map import code_map
from aelab.viz.grid import image_rows

Status = Callable[[str], None]
# the methods scored, in table order: baselines, IDEC, then N2D's two steps
METHODS = ("pixels", "pca", "code", "idec", "umap_kmeans", "n2d")
EPS = 1e-12


def _quiet(_: str) -> None:
    pass


@dataclass
class IdecResult:
    """IDEC's fine-tuning trace and its fine-tuned test codes (N, D), assignments and
    confidences (test split order)."""

    history: list[dict[str, float]]
    iterations: int
    converged: bool
    changed_vs_code: float
    test_codes: np.ndarray = field(repr=False)
    test_assign: np.ndarray = field(repr=False)
    test_confidence: np.ndarray = field(repr=False)

    def section(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "converged": self.converged,
            "changed_vs_code": self.changed_vs_code,
            "history": self.history,
        }


@dataclass
class ClusterResult:
    """Scores per method (``scores[method] = {"nmi", "ari", "acc"}`` on the test split, in
    :data:`METHODS` order, the methods that ran), wall seconds per step, and what IDEC and
    N2D produced (None when not run)."""

    config: ClusterConfig
    n_clusters: int
    n_fit: int
    n_test: int
    dims: dict[str, int]
    scores: dict[str, dict[str, float]]
    seconds: dict[str, float]
    idec: IdecResult | None = None
    n2d: N2DResult | None = None

    def section(self) -> dict[str, Any]:
        """The "cluster" section of metrics.json (and cluster.json); N2D's settings as run
        (the embedding size resolved, umap-learn's version) go under "umap"."""
        settings = {
            f.name: getattr(self.config, f.name)
            for f in fields(self.config)
            if f.name not in ("methods", "n2d")
        }
        out: dict[str, Any] = {
            "settings": {"methods": ", ".join(self.config.methods)}  # text: the report shows it
            | settings
            | {"n_clusters": self.n_clusters},
            "n_fit": self.n_fit,
            "n_test": self.n_test,
            "dims": self.dims,
            "scores": self.scores,
        }
        if self.idec is not None:
            out["idec"] = self.idec.section()
        if self.n2d is not None:  # its seed is the settings' seed
            out["umap"] = {k: v for k, v in self.n2d.settings.items() if k != "seed"}
        return out | {"seconds": self.seconds}


# --------------------------------------------------------------------------- DEC pieces


def soft_assign(z, centers, alpha: float = 1.0):
    """Student-t soft assignments q (N, K) of codes z (N, D) to centres (K, D); rows sum
    to 1. Works on numpy arrays and on tensors (differentiably)."""
    sq = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    kernel = (1.0 + sq / alpha) ** (-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(1)[:, None]


def target_distribution(q):
    """DEC's target p (N, K) from q (N, K): q^2 / f with f the soft cluster sizes, rows
    renormalised. It sharpens confident assignments and down-weights large clusters."""
    weight = q**2 / q.sum(0)[None, :]
    return weight / weight.sum(1)[:, None]


def kl_loss(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """KL(P || Q), summed over clusters, averaged over the batch (DEC's objective)."""
    return F.kl_div(q.clamp_min(EPS).log(), p, reduction="batchmean")


# --------------------------------------------------------------------------- k-means


def kmeans(features: np.ndarray, k: int, cfg: ClusterConfig) -> KMeans:
    """k-means with ``cfg.n_init`` restarts seeded by ``cfg.seed`` on (N, D) features."""
    return KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.seed).fit(features)


def _timed(status: Status, what: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    status(f"{what} ...")
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    status(f"{what}: {seconds:.1f}s")
    return out, seconds


# --------------------------------------------------------------------------- IDEC


STATUS_SECONDS = 10.0  # IDEC reports its step at least this often between target updates


def _embed(model: TrainedModel, images: np.ndarray) -> np.ndarray:
    """Codes (N, D) in eval mode, the model left in the mode it was in."""

    was_training = model.model.training
    model.model.eval()
    try:
        return embed_images(model, images)
    finally:
        model.model.train(was_training)


def idec(
    model: TrainedModel,
    images: np.ndarray,
    centers: np.ndarray,
    cfg: ClusterConfig,
    *,
    status: Status = _quiet,
) -> tuple[np.ndarray, list[dict[str, float]], bool]:
    """Fine-tune ``model``'s encoder and decoder in place, and the ``centers`` (K, D), on
    ``images`` (N, C, H, W) uint8 with L_r + gamma * KL(P || Q). Returns the final centres,
    one trace row per target update and whether the tol criterion stopped it."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = model.model
    mu = torch.nn.Parameter(torch.as_tensor(centers, dtype=torch.float32, device=model.device))
    optimizer = torch.optim.Adam([*net.parameters(), mu], lr=cfg.lr)
    n, history, converged = len(images), [], False
    order, cursor = rng.permutation(n), 0
    previous: np.ndarray | None = None
    p_all = torch.empty(0)
    kl_sum = rec_sum = 0.0
    start = last_line = time.perf_counter()
    for step in range(cfg.max_iter + 1):
        if step % cfg.update_interval == 0 or step == cfg.max_iter:
            q = soft_assign(_embed(model, images), mu.detach().cpu().numpy(), cfg.alpha)
            assign = q.argmax(1)
            changed = 1.0 if previous is None else changed_fraction(previous, assign)
            done = step - (history[-1]["step"] if history else 0)
            row = {"step": step, "changed": changed}
            if done:
                row |= {"kl": kl_sum / done, "reconstruction": rec_sum / done}
            history.append(row)
            kl_sum = rec_sum = 0.0
            status(
                f"IDEC step {step}/{cfg.max_iter}: "
                + (
                    "first target from the k-means centres"
                    if previous is None
                    else f"{changed:.2%} of points changed cluster"
                )
                + (f", KL {row['kl']:.4f}, L_r {row['reconstruction']:.4f}" if done else "")
                + f" ({time.perf_counter() - start:.0f}s)"
            )
            last_line = time.perf_counter()
            if previous is not None and changed < cfg.tol:
                converged = True
                break
            if step == cfg.max_iter:
                break
            previous = assign
            p_all = torch.as_tensor(target_distribution(q), dtype=torch.float32)
        if cursor + cfg.batch_size > n:
            order, cursor = rng.permutation(n), 0
        index = order[cursor : cursor + cfg.batch_size]
        cursor += cfg.batch_size
        x = next(image_batches(images[index], len(index), model.device))
        net.train()
        kl = kl_loss(soft_assign(net.encode(x), mu, cfg.alpha), p_all[index].to(x.device))
        reconstruction = net.loss(x).total
        loss = reconstruction + cfg.gamma * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        net.eval()
        kl_sum += float(kl.detach())
        rec_sum += float(reconstruction.detach())
        if time.perf_counter() - last_line >= STATUS_SECONDS:  # never silent for long
            since = step + 1 - history[-1]["step"]
            status(
                f"IDEC step {step + 1}/{cfg.max_iter}: KL {kl_sum / since:.4f}, "
                f"L_r {rec_sum / since:.4f} ({time.perf_counter() - start:.0f}s)"
            )
            last_line = time.perf_counter()
    return mu.detach().cpu().numpy(), history, converged


# --------------------------------------------------------------------------- the protocol


def _labels(data: DatasetSplits) -> np.ndarray:
    if data.test.labels is None:
        raise DataError(
            f"the test split of {data.name} has no labels: clustering is scored against them "
            "(NMI, ARI, accuracy)."
        )
    return np.asarray(data.test.labels)


def n_clusters_of(data: DatasetSplits, cfg: ClusterConfig) -> int:
    """``cfg.n_clusters``, or the number of classes of ``data``."""
    if cfg.n_clusters:
        return cfg.n_clusters
    if data.classes:
        return len(data.classes)
    return len(np.unique(_labels(data)))


def cluster_model(
    model: TrainedModel,
    data: DatasetSplits,
    cfg: ClusterConfig = DEFAULT_CONFIG,
    *,
    status: Status = _quiet,
) -> ClusterResult:
    """k-means on pixels, PCA and the frozen codes, then IDEC, all fitted on the train split
    (its first ``cfg.train_limit`` images) and scored on the test split. Fine-tunes
    ``model`` in place. CPU threads as in training (``train.threads``, 0: automatic): two
    OpenMP threads on a busy 2-core machine run many times slower than one."""
    from threadpoolctl import threadpool_limits

    threads = (model.config.train.threads if model.config else 0) or auto_threads()
    with cpu_threads(threads), threadpool_limits(threads):
        return _cluster_model(model, data, cfg, status)


def _cluster_model(
    model: TrainedModel, data: DatasetSplits, cfg: ClusterConfig, status: Status
) -> ClusterResult:
    if cfg.runs("n2d"):
        check_n2d(cfg.n2d)  # a missing extra fails before any k-means
    test_y = _labels(data)
    k = n_clusters_of(data, cfg)
    n = len(data.train) if cfg.train_limit <= 0 else min(cfg.train_limit, len(data.train))
    fit_images, test_images = data.train.images[:n], data.test.images
    if n < k:
        raise DataError(f"{n} training images cannot make {k} clusters; use more images.")
    fit_pix = flatten(fit_images) / np.float32(255.0)
    test_pix = flatten(test_images) / np.float32(255.0)
    dim = model.latent_dim
    fit_pca, test_pca = pca_features(fit_pix, test_pix, dim, random_state=cfg.seed)
    fit_codes, test_codes = _embed(model, fit_images), _embed(model, test_images)
    scores, seconds, models = {}, {}, {}
    dims = {"pixels": fit_pix.shape[1], "pca": fit_pca.shape[1], "code": dim}
    for name, fit_x, test_x in (
        ("pixels", fit_pix, test_pix),
        ("pca", fit_pca, test_pca),
        ("code", fit_codes, test_codes),
    ):
        what = f"k-means on {name} ({fit_x.shape[1]}-d, {k} clusters, {cfg.n_init} restarts)"
        models[name], seconds[f"kmeans_{name}"] = _timed(
            status, what, lambda x=fit_x: kmeans(x, k, cfg)
        )
        scores[name] = agreement(test_y, models[name].predict(test_x))
    n2d_result = None
    if cfg.runs("n2d"):  # on the frozen codes, before IDEC changes the encoder
        status(f"N2D on the {dim}-d codes of {n:,} training and {len(test_codes):,} test images")
        n2d_result = n2d(fit_codes, test_codes, k, cfg.n2d, seed=cfg.seed, status=status)
        seconds |= n2d_result.seconds
        scores["umap_kmeans"] = agreement(test_y, n2d_result.kmeans_assign)
        scores["n2d"] = agreement(test_y, n2d_result.gmm_assign)
        dims["umap_kmeans"] = dims["n2d"] = n2d_result.settings["umap_dims"]
    idec_result = None
    if cfg.runs("idec"):
        code_assign = models["code"].predict(test_codes)
        centers = models["code"].cluster_centers_
        idec_result, seconds["idec"] = _timed(
            status,
            f"IDEC fine-tuning on {n:,} images (at most {cfg.max_iter} steps)",
            lambda: _idec_scored(model, fit_images, test_images, code_assign, centers, cfg, status),
        )
        scores["idec"] = agreement(test_y, idec_result.test_assign)
        dims["idec"] = dim
    return ClusterResult(
        config=cfg,
        n_clusters=k,
        n_fit=n,
        n_test=len(test_images),
        dims={m: dims[m] for m in METHODS if m in dims},
        scores={m: scores[m] for m in METHODS if m in scores},
        seconds={key: round(value, 2) for key, value in seconds.items()},
        idec=idec_result,
        n2d=n2d_result,
    )


def _idec_scored(
    model: TrainedModel,
    fit_images: np.ndarray,
    test_images: np.ndarray,
    code_assign: np.ndarray,
    centers: np.ndarray,
    cfg: ClusterConfig,
    status: Status,
) -> IdecResult:
    """IDEC from the frozen code's k-means ``centers`` (whose test assignments are
    ``code_assign``), then the test images assigned by the fine-tuned model."""
    centers, history, converged = idec(model, fit_images, centers, cfg, status=status)
    test_codes = _embed(model, test_images)
    q = soft_assign(test_codes, centers, cfg.alpha)
    assign = q.argmax(1)
    return IdecResult(
        history=history,
        iterations=int(history[-1]["step"]),
        converged=converged,
        changed_vs_code=changed_fraction(code_assign, assign),
        test_codes=test_codes,
        test_assign=assign,
        test_confidence=q.max(1),
    )


# --------------------------------------------------------------------------- output

LABELS = {
    "pixels": "k-means: pixels",
    "pca": "k-means: PCA",
    "code": "k-means: frozen code",
    "idec": "IDEC: fine-tuned code",
    "umap_kmeans": "k-means: UMAP of the code",
    "n2d": "N2D: mixture on UMAP of the code",
}


def table_rows(result: ClusterResult) -> list[dict[str, Any]]:
    """One row per method run: its name, feature size and test NMI, ARI and accuracy."""
    return [
        {"method": LABELS[m], "dim": result.dims[m], **scores}
        for m, scores in result.scores.items()
    ]


def to_markdown(result: ClusterResult, *, title: str = "") -> str:
    """The cluster.md table (test split) and the settings it was measured with."""

    c = result.config
    columns = [("method", "method", ""), ("dim", "features", "")] + [
        (m, m.upper() if m != "acc" else "accuracy", ".4f") for m in ("nmi", "ari", "acc")
    ]
    head = [f"## {title}", ""] if title else []
    notes = (
        f"\n{result.n_clusters} clusters; every k-means fitted on {result.n_fit:,} training "
        f"images ({c.n_init} restarts, seed {c.seed}) and scored on {result.n_test:,} test "
        "images."
    )
    if (i := result.idec) is not None:
        notes += (
            f" IDEC: gamma {c.gamma}, Adam lr {c.lr}, batch {c.batch_size}, target every "
            f"{c.update_interval} steps, tol {c.tol}; {i.iterations} steps "
            f"({'converged' if i.converged else 'stopped at max_iter'}), "
            f"{i.changed_vs_code:.1%} of test images changed cluster."
        )
    if result.n2d is not None:
        u, sec = result.n2d.settings, result.n2d.seconds
        notes += (
            f" N2D (McConville et al.): UMAP of the frozen codes to {u['umap_dims']} dimensions "
            f"(n_neighbors {u['umap_neighbors']}, min_dist {u['umap_min_dist']:g}, "
            f"{u['umap_metric']}, seed {u['seed']}, umap-learn {u['umap_learn']}) fitted on the "
            "training codes, the test codes placed by its transform; a Gaussian mixture "
            f"({u['gmm_covariance']} covariance, {u['gmm_n_init']} fit"
            f"{'s' if u['gmm_n_init'] > 1 else ''}) and k-means on that embedding. Wall time: "
            f"UMAP {sec['umap']:.1f}s, mixture {sec['gmm']:.1f}s."
        )
    return "\n".join(head) + markdown_table(table_rows(result), columns) + notes + "\n"


def _cluster_rows(
    data: DatasetSplits,
    assign: np.ndarray,
    confidence: np.ndarray,
    n_clusters: int,
    per_cluster: int,
) -> tuple[list[np.ndarray], list[str]]:
    """The ``per_cluster`` most confident test images of each cluster, and each row's label
    (size, most common class and its share)."""
    labels = _labels(data)
    names = list(data.classes or ())
    rows, row_labels = [], []
    for c in range(n_clusters):
        members = np.flatnonzero(assign == c)
        best = members[np.argsort(-confidence[members])[:per_cluster]]
        rows.append(data.test.images[best])
        if len(members):
            top = np.bincount(labels[members]).argmax()
            share = np.mean(labels[members] == top)
            top_name = names[top] if top < len(names) else str(top)
            row_labels.append(f"#{c} ({len(members)})\n{share:.0%} {top_name}")
        else:
            row_labels.append(f"#{c} (0)")
    return rows, row_labels


def cluster_figures(
    result: ClusterResult, data: DatasetSplits, *, per_cluster: int = 12, title: str = ""
):
    """{file stem: Figure}. IDEC: the fine-tuned test codes (PCA to 2-D) coloured by
    cluster and by class, and the ``per_cluster`` most confident test images of every
    cluster. N2D: the test codes' UMAP embedding (its first 2 dimensions) coloured by N2D
    cluster and by class, and N2D's most confident images per cluster. ``title``: what the
    figure titles start with (run · dataset)."""

    def titled(what: str) -> str:
        return f"{title} · {what}" if title else what

    labels = _labels(data)
    names = list(data.classes or ()) or None
    figures = {}
    if (i := result.idec) is not None:
        points = PCA(n_components=2, random_state=0).fit_transform(i.test_codes)
        rows, row_labels = _cluster_rows(
            data, i.test_assign, i.test_confidence, result.n_clusters, per_cluster
        )
        figures |= {
            "codes_by_cluster": code_map(
                points, i.test_assign, title=titled("IDEC codes (test, PCA) by cluster")
            ),
            "codes_by_class": code_map(
                points, labels, title=titled("IDEC codes (test, PCA) by class"), class_names=names
            ),
            "clusters": image_rows(
                rows, title=titled("most confident test images per cluster"), row_labels=row_labels
            ),
        }
    if (r := result.n2d) is not None:
        if r.test_embedding.shape[1] >= 2:  # --umap-dims 1 has no plane to draw
            points = r.test_embedding[:, :2]
            figures |= {
                "n2d_by_cluster": code_map(
                    points,
                    r.gmm_assign,
                    title=titled("UMAP of the codes (test) by N2D cluster"),
                    axis_name="UMAP",
                ),
                "n2d_by_class": code_map(
                    points,
                    labels,
                    title=titled("UMAP of the codes (test) by class"),
                    class_names=names,
                    axis_name="UMAP",
                ),
            }
        rows, row_labels = _cluster_rows(
            data, r.gmm_assign, r.confidence, result.n_clusters, per_cluster
        )
        figures["n2d_clusters"] = image_rows(
            rows, title=titled("most confident test images per N2D cluster"), row_labels=row_labels
        )
    return figures


def final_assignments(result: ClusterResult) -> np.ndarray | None:
    """The test images' clusters (N,) by the last method run in :data:`METHODS` order that
    assigns them (N2D's mixture, else IDEC); None when only the k-means baselines ran."""
    if result.n2d is not None:
        return result.n2d.gmm_assign
    if result.idec is not None:
        return result.idec.test_assign
    return None


def map_clusters(run_dir: Path, result: ClusterResult) -> bool:
    """Store :func:`final_assignments` as the "cluster" colour of the run's interactive code
    map (``add_map_column``); False when the run has no stored map (evaluated without
    ``--figures all``) or there are no assignments."""
    assign = final_assignments(result)
    return assign is not None and add_map_column(run_dir, "cluster", assign)


def cluster_output(
    result: ClusterResult, data: DatasetSplits, *, run_name: str, folder: Path | None = None
) -> TaskResult:
    """The task's output: the "cluster" section, the figures, and cluster.json / cluster.md
    (the section and the table, for readers of RUN/cluster/). ``folder``: RUN/cluster/,
    whose figures of methods not run this time are removed when the figures are drawn (a
    report never shows IDEC's figures beside an N2D-only section)."""
    section = result.section()
    title = f"clustering {data.name} · {run_name}"

    def figures():  # called only when the result is written, before the report is rebuilt
        drawn = cluster_figures(result, data, title=f"{run_name} · {data.name}")
        if folder is not None:
            for stem in set(SECTION_FIGURES["cluster"]) - set(drawn):
                (folder / f"{stem}.png").unlink(missing_ok=True)
            map_clusters(folder.parent, result)
        return drawn

    return TaskResult(
        section,
        figures=figures,
        files={
            "cluster.json": json.dumps(section, indent=2) + "\n",
            "cluster.md": to_markdown(result, title=title),
        },
        detail=result,
    )


class ClusterTask:
    """Clustering as a downstream task: section "cluster", files in RUN/cluster/."""

    name = "cluster"
    section = "cluster"

    def __init__(self, config: ClusterConfig = DEFAULT_CONFIG) -> None:
        if config.runs("n2d"):
            check_n2d(config.n2d)  # before the run and its data are loaded
        self.config = config

    def compute(self, context: TaskContext) -> TaskResult:
        result = cluster_model(context.model, context.data, self.config, status=context.log)
        return cluster_output(
            result,
            context.data,
            run_name=context.run_dir.name,
            folder=context.run_dir / self.section,
        )


def write_cluster(run_dir: str | Path, result: ClusterResult, data: DatasetSplits) -> Path:
    """RUN_DIR/cluster/{cluster.json, cluster.md, *.png}, metrics.json's "cluster" and the
    report."""
    folder = Path(run_dir) / ClusterTask.section
    output = cluster_output(result, data, run_name=Path(run_dir).name, folder=folder)
    return write_result(run_dir, ClusterTask.section, output)


def cluster_run(
    run_dir: str | Path,
    cfg: ClusterConfig = DEFAULT_CONFIG,
    *,
    dataset: str | None = None,
    checkpoint: str = "best",
    device: str = "auto",
    write: bool = True,
    status: Status = _quiet,
) -> ClusterResult:
    """Cluster the test split of the run in ``run_dir`` (its own dataset, or ``dataset``);
    with ``write``, write RUN_DIR/cluster/, merge the "cluster" section into metrics.json
    and re-render the report. The run's checkpoint is not changed."""
    task = ClusterTask(cfg)  # a missing extra fails here, before anything is loaded
    status("loading the run and its data")
    output = run_task(
        task, run_dir, dataset=dataset, checkpoint=checkpoint, device=device,
        write=write, progress=False, log=status,
    )  # fmt: skip
    return output.detail
