"""One-class anomaly detection: metrics on known answers, and the protocol on planted data."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from aelab.errors import ConfigError, DataError
from aelab.metrics.anomaly import auprc, auroc, roc
from aelab.reuse.anomaly import (
    class_index,
    code_distance,
    one_class_data,
    run_protocol,
    standardise,
)

from .conftest import tiny_config


def test_auroc_and_auprc_known_answers():
    labels = np.array([0, 0, 0, 1, 1])
    perfect = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auroc(perfect, labels) == 1.0 and auprc(perfect, labels) == 1.0
    assert auroc(-perfect, labels) == 0.0
    assert auroc(np.ones(5), labels) == 0.5
    fpr, tpr = roc(perfect, labels)
    assert fpr[0] == 0 and tpr[-1] == 1
    with pytest.raises(DataError, match="both normal and anomalous"):
        auroc(perfect, np.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        auroc(np.array([np.nan, 1, 2, 3, 4]), labels)


def test_code_distance():
    normal = np.array([[0.0, 0.0], [2.0, 0.0]])
    codes = np.array([[1.0, 0.0], [1.0, 3.0]])
    np.testing.assert_allclose(code_distance(normal, codes, method="mean"), [0.0, 3.0])
    np.testing.assert_allclose(
        code_distance(normal, codes, method="knn", k=1), [1.0, np.hypot(1, 3)]
    )
    with pytest.raises(ConfigError, match="knn"):
        code_distance(normal, codes, method="median")


def test_code_distance_leaving_each_code_out_of_its_neighbours():
    normal = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(
        code_distance(normal, normal, k=1, leave_self_out=True), [1.0, 1.0, 2.0]
    )
    # the mean of the other codes: (2, 0), (1.5, 0), (0.5, 0)
    np.testing.assert_allclose(
        code_distance(normal, normal, method="mean", leave_self_out=True), [2.0, 0.5, 2.5]
    )
    with pytest.raises(DataError, match="2 or more"):
        code_distance(normal[:1], normal[:1], leave_self_out=True)


def test_standardise_puts_scores_on_the_reference_scale():
    reference = np.exp(np.array([0.0, 2.0]))  # log: mean 1, std 1
    np.testing.assert_allclose(standardise(np.exp([1.0, 3.0, -1.0]), reference), [0, 2, -2])
    # a constant reference (std 0) only shifts; zeros do not give -inf
    out = standardise(np.array([0.0, 1.0]), np.ones(3))
    assert np.isfinite(out).all() and out[1] == 0.0


def test_one_class_data_keeps_only_the_normal_class(tiny_data):
    sub = one_class_data(tiny_data, 2)
    assert set(sub.train.labels) == {2} and set(sub.val.labels) == {2}
    assert len(sub.test) == len(tiny_data.test)
    assert class_index(tiny_data, "3") == 3
    with pytest.raises(ConfigError, match="labels present"):
        class_index(tiny_data, 7)


def test_a_class_missing_from_the_validation_split_is_a_data_error(tiny_data):
    """A small val_size can leave a class without validation images: one line naming the
    class and the fix, not a ZeroDivisionError from validating on nothing."""
    val = tiny_data.val.take(np.flatnonzero(tiny_data.val.labels != 1))
    data = dataclasses.replace(tiny_data, val=val)
    with pytest.raises(DataError, match=r"class 1 has no validation images .* data.val_size"):
        one_class_data(data, 1)


def test_protocol_on_planted_structure(tiny_data, tmp_path):
    config = tiny_config(epochs=30, batch_size=16)
    results, payload = run_protocol(
        config, tiny_data, [0, 1], out_dir=tmp_path, code_score="knn", quiet=True
    )
    assert [r.normal_class for r in results] == [0, 1]
    assert all(r.n_test_normal == 30 and r.n_test_anomalous == 90 for r in results)
    # chance is 0.5: a model of one bar reconstructs bars at other angles badly
    assert payload["mean"]["reconstruction_auroc"] > 0.8, payload["mean"]
    assert payload["mean"]["code_auroc"] > 0.6, payload["mean"]
    assert payload["mean"]["combined_auroc"] > 0.8, payload["mean"]
    assert {"reconstruction_auroc", "code_auroc", "combined_auroc"} <= set(payload["classes"][0])
    for name in ("anomaly.csv", "anomaly.md", "anomaly.json", "roc.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "anomaly.json").read_text())
    assert saved["mean"] == pytest.approx(payload["mean"])
    table = (tmp_path / "anomaly.md").read_text()
    assert "**mean**" in table and "AUROC (combined)" in table
    # the calibrated detector's decisions at its threshold: a column each, and their mean
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header, rows = lines[0], lines[2:]
    for label in ("FPR", "precision", "recall", "F1"):
        assert f"{label} at threshold" in header
    assert header.rstrip(" |").endswith("F1 at threshold")
    mean_f1 = float(rows[-1].rstrip(" |").rsplit("|", 1)[-1])
    assert mean_f1 == pytest.approx(np.mean([r.threshold["f1"] for r in results]), abs=5e-4)
    # the pixel baselines, fitted on the same normal images, get a column and a mean each
    for name in ("pca", "ocsvm", "iforest"):
        assert f"AUROC ({name})" in table and f"{name}_auroc" in payload["mean"]
        assert payload["mean"][f"{name}_auroc"] > 0.6, payload["mean"]
        assert payload["classes"][0][f"{name}_seconds"] >= 0


def test_a_validation_split_that_is_the_test_split_is_never_used_to_calibrate(tiny_data) -> None:
    """R1 validates on the test split; the one-class protocol then holds out a tenth of the
    normal training images instead, so no test image standardises or calibrates a score."""
    leaky = dataclasses.replace(tiny_data, val=tiny_data.test)
    sub = one_class_data(leaky, 2)
    normal = one_class_data(dataclasses.replace(tiny_data, val=None), 2).train
    assert not np.shares_memory(sub.val.images, tiny_data.test.images)
    assert len(sub.val) == round(len(normal) * 0.1) and len(sub.train) + len(sub.val) == len(normal)
    np.testing.assert_array_equal(np.concatenate([sub.train.images, sub.val.images]), normal.images)
