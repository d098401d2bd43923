"""The ONNX scorer: `aelab export RUN --part scorer` on a run `aelab anomaly --save-runs`
wrote (with its detector.json) gives the detector's scores to 1e-5 and the same decisions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aelab.cli.main import main
from aelab.errors import ConfigError
from aelab.reuse.anomaly import one_class
from aelab.reuse.detector import DETECTOR_FILE, Detector
from aelab.reuse.export import export
from aelab.reuse.inference import load
from fakedata import tiny_splits

from .conftest import CLASSES, SHAPE, tiny_config

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def data():
    return tiny_splits(480, shape=SHAPE, classes=CLASSES, n_test=400, val=120)


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("scorer") / "class-2"
    r = one_class(tiny_config(epochs=20), data, 2, run_dir=run, fpr=0.1)
    return run, r


def test_anomaly_run_gets_a_detector_and_threshold_metrics(class_run):
    run, r = class_run
    det = Detector.load(run)
    assert det.target_fpr == 0.1 and det.calibration["normal_class"] == 2
    metrics = json.loads((run / "metrics.json").read_text())["anomaly"]
    assert set(metrics["threshold"]) == {"fpr", "precision", "recall", "f1"}
    assert metrics["threshold"] == pytest.approx(r.threshold)
    assert metrics["info"]["target_fpr"] == 0.1
    # the detector's decisions are the protocol's combined score against its threshold
    model = load(run, checkpoint="last")
    np.testing.assert_allclose(det.score(model, r_test_images(class_run)), r.scores["combined"])


def r_test_images(class_run):
    return tiny_splits(480, shape=SHAPE, classes=CLASSES, n_test=400, val=120).test.images


@pytest.mark.parametrize("score", ["combined", "code", "reconstruction"])
def test_onnx_scorer_agrees_with_pytorch(class_run, data, tmp_path, score):
    run, _ = class_run
    out = tmp_path / "scorer.onnx"
    if score == "combined":
        assert main(["export", str(run), "--part", "scorer", "--out", str(out), "--quiet"]) == 0
        model = load(run)
        det = Detector.load(run)
    else:
        from aelab.reuse.anomaly import one_class_data
        from aelab.reuse.detector import calibrate

        model = load(run)
        sub = one_class_data(data, 2)
        det = calibrate(model, sub.train.images, sub.val.images, score=score, k=3)
        export(model.model, out, part="scorer", detector=det)
    images = data.test.images
    expected = det.score(model, images)
    session = ort.InferenceSession(str(out))
    scores, flags = session.run(None, {"input": images.astype(np.float32) / 255})
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(flags, det.decide(expected))
    assert 0 < flags.sum() < len(flags)
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert float(props["aelab.threshold"]) == det.threshold
    assert props["aelab.score"] == score
    assert json.loads(props["aelab.detector"])["k"] == det.k


def test_scorer_needs_a_detector_and_onnx(class_run, tmp_path):
    run, _ = class_run
    model = load(run)
    with pytest.raises(ConfigError, match="detector"):
        export(model.model, tmp_path / "x.onnx", part="scorer")
    with pytest.raises(ConfigError, match="ONNX only"):
        export(model.model, tmp_path / "x.pt", part="scorer", format="torchscript")
    (tmp_path / "bare").mkdir()
    assert not (tmp_path / "bare" / DETECTOR_FILE).exists()


def test_scorer_and_serving_use_the_checkpoint_the_detector_was_calibrated_on(class_run):
    """A class run keeps a "best" checkpoint (lowest validation loss) besides "last"; its
    detector is calibrated on "last", so serving and the scorer default to "last" and refuse
    other weights (the threshold would not hold for them)."""
    from aelab.api import export as api_export
    from aelab.reuse.detector import scoring_checkpoint

    run, _ = class_run
    assert (run / "checkpoints" / "best.safetensors").is_file()  # best kept beside last
    assert Detector.load(run).calibration["checkpoint"] == "last"
    assert scoring_checkpoint(run) == scoring_checkpoint(run, "last") == "last"
    with pytest.raises(ConfigError, match="calibrated on the 'last' checkpoint"):
        scoring_checkpoint(run, "best")
    with pytest.raises(ConfigError, match="--checkpoint last"):
        api_export(run, run / "s.onnx", part="scorer", checkpoint="best")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(run), "--part", "scorer", "--checkpoint", "best"])
    assert exit_info.value.code == 2
    # without a detector the default stays "best"
    plain = run.parent / "plain"
    plain.mkdir()
    assert scoring_checkpoint(plain) == "best" and scoring_checkpoint(plain, "last") == "last"
