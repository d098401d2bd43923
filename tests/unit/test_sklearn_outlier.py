"""AutoencoderOutlierDetector: scikit-learn's estimator checks, images in, +1/-1 out, and a
threshold that flags about ``fpr`` of new inliers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab.sklearn import AutoencoderOutlierDetector
from fakedata import tiny_splits

# A tiny model and two epochs per fit keep the whole check suite well under a minute.
FAST = {"latent_dim": 2, "hidden": (8,), "epochs": 2, "batch_size": 32, "k": 3}


def expected_failed_checks(estimator) -> dict[str, str]:
    """Checks the estimator cannot satisfy, with the reason (strict mode below turns an
    unexpected pass into a failure, so this list cannot go stale)."""
    return {}


@pytest.mark.filterwarnings("ignore:latent_dim")  # tiny check data: the code is not a bottleneck
@parametrize_with_checks(
    [AutoencoderOutlierDetector(**FAST), AutoencoderOutlierDetector(**FAST, anomaly_score="code")],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def images():
    data = tiny_splits(400, shape=(1, 10, 10), classes=4, n_test=200)
    return data


def test_images_in_plus_minus_one_out(images):
    normal = images.train.images[images.train.labels == 0]  # (N, 1, 10, 10) uint8
    det = AutoencoderOutlierDetector(
        latent_dim=4, hidden=(32,), epochs=20, fpr=0.1, random_state=0
    ).fit(normal)
    assert det.input_shape_ == (1, 10, 10) and det.n_features_in_ == 100
    test, labels = images.test.images, images.test.labels
    pred = det.predict(test)
    assert set(np.unique(pred)) <= {-1, 1} and pred.dtype.kind == "i"
    # the other classes are mostly outliers, the normal class mostly inliers
    assert np.mean(pred[labels != 0] == -1) > 0.8
    assert np.mean(pred[labels == 0] == 1) > 0.6
    # (N, H, W) and flat rows give the same scores as (N, C, H, W)
    s = det.score_samples(test)
    np.testing.assert_allclose(det.score_samples(test[:, 0]), s)
    np.testing.assert_allclose(det.score_samples(test.reshape(len(test), -1)), s)
    np.testing.assert_allclose(det.decision_function(test), s - det.offset_)
    assert det.offset_ == -det.detector_.threshold
    with pytest.raises(ValueError, match="images of shape"):
        det.predict(np.zeros((2, 1, 5, 20)))


def test_random_state_gives_identical_fits(images):
    X = images.train.images[:80].reshape(80, -1).astype(np.float32) / 255
    a = AutoencoderOutlierDetector(**FAST, random_state=3).fit(X).score_samples(X)
    b = AutoencoderOutlierDetector(**FAST, random_state=3).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)
