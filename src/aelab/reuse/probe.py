"""Probe a run's codes: are they useful for classification and clustering?

Train codes -> test codes; logistic regression, 5-NN and k-means (see
``aelab.metrics.downstream``) on the autoencoder's codes, on PCA at the code's size and on
the raw pixels, side by side. ``probe_run`` writes the "downstream" section of the run's
metrics.json and re-renders its report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.data.splits import DatasetSplits, Split
from aelab.errors import DataError
from aelab.metrics.downstream import PROBES, compare
from aelab.report import render_report
from aelab.report.tables import text_table
from aelab.reuse.embed import embed_images, run_data
from aelab.reuse.inference import TrainedModel, load
from aelab.rundir import merge_metrics


def _labelled(split: Split, name: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if split.labels is None:
        raise DataError(
            f"the {name} split has no labels: probes need labelled data (classification "
            "accuracy and clustering agreement are measured against the labels)."
        )
    n = len(split) if limit <= 0 else min(limit, len(split))
    return split.images[:n], np.asarray(split.labels[:n])


def probe_model(
    model: TrainedModel,
    data: DatasetSplits,
    *,
    train_limit: int = 0,
    random_state: int = 0,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """The "downstream" section for ``model`` on ``data``: probes fitted on (the first
    ``train_limit`` of) the train split, scored on the test split."""
    train_images, train_y = _labelled(data.train, "train", train_limit)
    test_images, test_y = _labelled(data.test, "test", 0)
    n_classes = len(data.classes) if data.classes else None
    train_codes = embed_images(model, train_images, progress=progress, desc="embed train")
    test_codes = embed_images(model, test_images, progress=progress, desc="embed test")
    return compare(
        train_codes,
        test_codes,
        train_images,
        test_images,
        train_y,
        test_y,
        n_classes=n_classes,
        random_state=random_state,
    )


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A plain-text table: one row per representation, one column per probe."""
    rows = [{"representation": name, **scores} for name, scores in results.items()]
    columns = [("representation", "representation", ""), *[(p, p, ".4f") for p in PROBES]]
    return text_table(rows, columns)


def probe_run(
    run_dir: str | Path,
    *,
    dataset: str | None = None,
    checkpoint: str = "best",
    device: str = "cpu",
    train_limit: int = 0,
    data: DatasetSplits | None = None,
    write: bool = True,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Probe the run in ``run_dir`` on its own dataset (or ``dataset``, or ``data`` given in
    memory); with ``write``, merge the result into metrics.json and re-render the report."""
    model = load(run_dir, checkpoint=checkpoint, device=device)
    assert model.config is not None
    if data is None:
        data = run_data(model.config, dataset, progress=progress)
    results = probe_model(model, data, train_limit=train_limit, progress=progress)
    if write:
        merge_metrics(run_dir, "downstream", results)
        render_report(run_dir)
    return results
