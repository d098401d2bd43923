"""The calibrated detector: its scores are the protocol's, its threshold is the quantile of
held-out normal scores, it survives a save/load, and anomaly maps add up to the MSE."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aelab.errors import CheckpointError, ConfigError
from aelab.reuse.anomaly import evaluate_class, one_class_data
from aelab.reuse.detector import (
    CODES_FILE,
    DETECTOR_FILE,
    Detector,
    anomaly_maps,
    calibrate,
    threshold_metrics,
)
from aelab.reuse.inference import TrainedModel
from aelab.training import train
from fakedata import tiny_splits

from .conftest import CLASSES, SHAPE, tiny_config

NORMAL = 1


@pytest.fixture(scope="module")
def data():
    return tiny_splits(640, shape=SHAPE, classes=CLASSES, n_test=160, val=160)


@pytest.fixture(scope="module")
def model(data) -> TrainedModel:
    sub = one_class_data(data, NORMAL)
    result = train(tiny_config(epochs=15), None, data=sub, quiet=True)
    return TrainedModel(result.model, result.config)


@pytest.fixture(scope="module")
def normal(data):
    sub = one_class_data(data, NORMAL)
    return sub.train.images, sub.val.images


@pytest.mark.parametrize("score", ["combined", "reconstruction", "code"])
def test_threshold_is_the_quantile_of_held_out_normal_scores(model, normal, score):
    fit, val = normal
    det = calibrate(model, fit, val, fpr=0.1, score=score, k=3, dataset="tiny", normal_class=1)
    val_scores = det.score(model, val)
    assert det.threshold == np.quantile(val_scores, 0.9, method="higher")
    assert np.mean(det.predict(model, val)) <= 0.1
    assert det.calibration["n_calibration"] == len(val) and det.calibration["normal_class"] == 1


def test_detector_scores_equal_the_protocols(model, data, normal):
    fit, val = normal
    r = evaluate_class(model, data, NORMAL, k=5)
    det = calibrate(model, fit, val, fpr=0.05, k=5)
    for name in ("combined", "reconstruction", "code"):
        d = det if name == "combined" else calibrate(model, fit, val, score=name, k=5)
        np.testing.assert_allclose(d.score(model, data.test.images), r.scores[name], rtol=1e-12)
    # the anomalies (other classes) score above the normal test images
    is_anomaly = data.test.labels != NORMAL
    m = threshold_metrics(det.predict(model, data.test.images), is_anomaly)
    assert set(m) == {"fpr", "precision", "recall", "f1"}
    assert m["recall"] > 0.8 and m["precision"] > 0.8


def test_without_validation_images_each_code_leaves_itself_out(model, normal):
    fit, _ = normal
    det = calibrate(model, fit, None, fpr=0.2, score="code", k=1)
    # leave-one-out: no training code is at distance 0 from the reference codes
    assert "left out" in det.calibration["calibration_images"]
    assert det.threshold > 0


def test_save_and_load_round_trip(model, normal, data, tmp_path):
    fit, val = normal
    det = calibrate(model, fit, val, fpr=0.05, dataset="tiny", normal_class=NORMAL)
    det.save(tmp_path)
    payload = json.loads((tmp_path / DETECTOR_FILE).read_text())
    assert payload["score"] == "combined" and payload["target_fpr"] == 0.05
    assert set(payload["log_stats"]) == {"reconstruction", "code"}
    back = Detector.load(tmp_path)
    np.testing.assert_array_equal(back.normal_codes, det.normal_codes)
    assert back.threshold == det.threshold and back.log_stats == det.log_stats
    np.testing.assert_array_equal(
        back.score(model, data.test.images), det.score(model, data.test.images)
    )

    blob = bytearray((tmp_path / CODES_FILE).read_bytes())
    blob[-1] ^= 1
    (tmp_path / CODES_FILE).write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="SHA-256"):
        Detector.load(tmp_path)
    (tmp_path / DETECTOR_FILE).write_text('{"format": "other"}')
    with pytest.raises(CheckpointError, match="not an aelab detector"):
        Detector.load(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        Detector.load(tmp_path / "missing")


def test_invalid_settings_are_config_errors(model, normal):
    fit, val = normal
    with pytest.raises(ConfigError, match="fpr"):
        calibrate(model, fit, val, fpr=1.5)
    with pytest.raises(ConfigError, match="combined"):
        calibrate(model, fit, val, score="combind")
    with pytest.raises(ConfigError, match="k="):
        calibrate(model, fit, val, k=0)


def test_threshold_metrics_known_answer():
    flags = np.array([True, True, False, False, True, False])
    truth = np.array([True, False, False, True, True, False])
    m = threshold_metrics(flags, truth)
    # tp 2, fp 1, fn 1, 3 normals
    assert m == pytest.approx({"fpr": 1 / 3, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    assert threshold_metrics(np.zeros(3, bool), np.array([1, 0, 0], bool))["precision"] == 0.0


def test_anomaly_maps_add_up_to_the_reconstruction_error(model, data):
    images = data.test.images[:10]
    raw = anomaly_maps(model, images, sigma=0)
    assert raw.shape == (10, *SHAPE[1:]) and raw.dtype == np.float32
    np.testing.assert_allclose(raw.mean((1, 2)), model.score(images), rtol=1e-5)
    smooth = anomaly_maps(model, images, sigma=1.0)
    assert smooth.shape == raw.shape and smooth.std() < raw.std()
    np.testing.assert_allclose(smooth.mean((1, 2)), raw.mean((1, 2)), rtol=0.2)
    # a constant map stays constant under the normalised kernel
    import torch

    from aelab.reuse.detector import smooth as blur

    np.testing.assert_allclose(blur(torch.full((1, 7, 9), 0.5), 1.5).numpy(), 0.5, rtol=1e-6)
    with pytest.raises(ConfigError, match="sigma"):
        anomaly_maps(model, images, sigma=-1)
