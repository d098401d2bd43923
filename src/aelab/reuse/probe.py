"""Probe a run's codes: are they useful for classification and clustering?

Train codes -> test codes; logistic regression, 5-NN and k-means (see
``aelab.metrics.downstream``) on the autoencoder's codes, on PCA at the code's size and on
the raw pixels, side by side. :class:`ProbeTask` is the downstream task
(``aelab.reuse.task``): ``probe_run`` writes the "downstream" section of the run's
metrics.json, the bar chart ``RUN/downstream/probe_scores.png`` and re-renders its report.

The baselines do not depend on the model, and the pixel one is the costly one (5-NN among
60,000 784-pixel images), so their scores are cached in the user cache,
``baselines/<dataset>-<key>-<pca32|pixels784>.json``, keyed by a hash of the images, labels
and ``downstream.PROTOCOL``: a second run's probe computes only its codes' scores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from aelab.data.splits import DatasetSplits, Split
from aelab.errors import DataError
from aelab.metrics.cache import (
    cache_path,
    content_key,
    library_version,
    read_cached,
    write_cached,
)
from aelab.metrics.catalog import by_path
from aelab.metrics.downstream import BASELINES, PROBES, PROTOCOL, STEPS, compare
from aelab.report.tables import text_table
from aelab.reuse.embed import embed_images
from aelab.reuse.inference import TrainedModel
from aelab.reuse.task import TaskContext, TaskResult, run_task
from aelab.training.device import compute_threads


def _labelled(split: Split, name: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if split.labels is None:
        raise DataError(
            f"the {name} split has no labels: probes need labelled data (classification "
            "accuracy and clustering agreement are measured against the labels)."
        )
    n = len(split) if limit <= 0 else min(limit, len(split))
    return split.images[:n], np.asarray(split.labels[:n])


class Status:
    """Says which probe step runs: a tqdm bar over the steps on a terminal, one line per
    step on stderr otherwise, nothing when disabled. Call it with each step's name."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.started = False

    def begin(self, steps: int) -> None:
        """``steps`` calls follow."""
        if self.enabled and sys.stderr.isatty():
            self.bar = tqdm(total=steps, desc="probe", unit="step", leave=False)

    def __call__(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(int(self.started))
            self.bar.set_description_str(f"probe: {text}")
        elif self.enabled:
            print(f"probe: {text}", file=sys.stderr, flush=True)
        self.started = True

    def note(self, text: str) -> None:
        """A line of its own (not a step)."""
        if self.bar is not None:
            self.bar.write(f"probe: {text}", file=sys.stderr)
        elif self.enabled:
            print(f"probe: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(int(self.started))
            self.bar.close()


def baseline_cache_key(
    train_images: np.ndarray,
    train_y: np.ndarray,
    test_images: np.ndarray,
    test_y: np.ndarray,
    *,
    n_classes: int | None,
    random_state: int,
) -> str:
    """A hash of everything a baseline's scores depend on: the images and labels of both
    splits, the probe protocol, k-means' k, the seed and scikit-learn's version."""
    settings = {
        "protocol": PROTOCOL,
        "n_classes": n_classes,
        "random_state": random_state,
        "sklearn": library_version("scikit-learn"),
    }
    return content_key((train_images, train_y, test_images, test_y), settings)


def _valid(scores: object) -> bool:
    return isinstance(scores, dict) and set(scores) == set(PROBES)


def probe_model(
    model: TrainedModel,
    data: DatasetSplits,
    *,
    train_limit: int = 0,
    random_state: int = 0,
    progress: bool = False,
    cache: bool = True,
) -> dict[str, dict[str, float]]:
    """The "downstream" section for ``model`` on ``data``: probes fitted on (the first
    ``train_limit`` of) the train split, scored on the test split. With ``cache``, the PCA
    and pixel scores come from (and go to) the baseline cache."""
    train_images, train_y = _labelled(data.train, "train", train_limit)
    test_images, test_y = _labelled(data.test, "test", 0)
    n_classes = len(data.classes) if data.classes else None
    status = Status(enabled=progress)
    with compute_threads(model.config.train.threads if model.config else 0):
        status.note(f"embedding {len(train_images):,} train and {len(test_images):,} test images")
        train_codes = embed_images(model, train_images, progress=progress, desc="embed train")
        test_codes = embed_images(model, test_images, progress=progress, desc="embed test")
        paths: dict[str, Path] = {}
        if cache:
            key = baseline_cache_key(
                train_images, train_y, test_images, test_y, n_classes=n_classes,
                random_state=random_state,
            )  # fmt: skip
            dims = {"pca": train_codes.shape[1], "pixels": int(np.prod(train_images.shape[1:]))}
            paths = {n: cache_path(data.name, key, f"{n}{dims[n]}") for n in BASELINES}
        known = {name: s for name, p in paths.items() if (s := read_cached(p, _valid)) is not None}
        status.begin(len(STEPS) * (1 + len(BASELINES) - len(known)))
        for name in known:
            status.note(f"{name}: scores from the baseline cache ({paths[name]})")
        results = compare(
            train_codes, test_codes, train_images, test_images, train_y, test_y,
            n_classes=n_classes, random_state=random_state, known=known, status=status,
        )  # fmt: skip
    for name, path in paths.items():
        if name not in known:
            write_cached(path, results[name], status.note, protocol=PROTOCOL)
    status.close()
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A plain-text table: one row per representation, one column per probe."""
    rows = [{"representation": name, **scores} for name, scores in results.items()]
    columns = [("representation", "representation", ""), *[(p, p, ".4f") for p in PROBES]]
    return text_table(rows, columns)


def probe_figure(results: dict[str, dict[str, float]], *, title: str):
    """The bar chart of ``results`` (the "downstream" section), probes named as in the
    catalog."""
    from aelab.viz.probe_scores import probe_scores

    labels = {}
    for probe in PROBES:
        metric = by_path(f"downstream.autoencoder.{probe}")
        labels[probe] = metric.label if metric else probe
    return probe_scores(results, title=title, labels=labels)


class ProbeTask:
    """The probes as a downstream task: section "downstream", figure ``probe_scores``."""

    name = "probe"
    section = "downstream"

    def __init__(self, *, train_limit: int = 0, random_state: int = 0, cache: bool = True):
        self.train_limit = train_limit
        self.random_state = random_state
        self.cache = cache

    def compute(self, context: TaskContext) -> TaskResult:
        results = probe_model(
            context.model,
            context.data,
            train_limit=self.train_limit,
            random_state=self.random_state,
            progress=context.progress,
            cache=self.cache,
        )
        title = "probe scores (test split)"
        return TaskResult(
            results,
            figures=lambda: {"probe_scores": probe_figure(results, title=context.title(title))},
            detail=results,
        )


def probe_run(
    run_dir: str | Path,
    *,
    dataset: str | None = None,
    checkpoint: str = "best",
    device: str = "auto",
    train_limit: int = 0,
    data: DatasetSplits | None = None,
    write: bool = True,
    progress: bool = True,
    cache: bool = True,
) -> dict[str, dict[str, float]]:
    """Probe the run in ``run_dir`` on its own dataset (or ``dataset``, or ``data`` given in
    memory); with ``write``, merge the result into metrics.json, draw its figure and
    re-render the report. ``cache``: reuse (and store) the PCA and pixel scores in the user
    cache."""
    task = ProbeTask(train_limit=train_limit, cache=cache)
    result = run_task(
        task, run_dir, data=data, dataset=dataset, checkpoint=checkpoint, device=device,
        write=write, progress=progress,
    )  # fmt: skip
    return result.detail
