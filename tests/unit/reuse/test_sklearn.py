"""AutoencoderTransformer: scikit-learn's own estimator checks, a Pipeline and GridSearchCV."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab.sklearn import AutoencoderTransformer

# Fast defaults for the check suite: a tiny model and two epochs per fit.
FAST = {"latent_dim": 2, "hidden": (8,), "epochs": 2, "batch_size": 16}


def expected_failed_checks(estimator) -> dict[str, str]:
    """Checks the estimator cannot satisfy, with the reason. None at present: every check of
    scikit-learn's suite passes (strict mode below turns an unexpected pass into a failure,
    so this list cannot go stale)."""
    return {}


@pytest.mark.filterwarnings("ignore:latent_dim")  # tiny check data: the code is not a bottleneck
@parametrize_with_checks(
    [AutoencoderTransformer(**FAST), AutoencoderTransformer(**FAST, family="vae")],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def planted(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes in 10 features, far apart in a 2-d subspace, on a non-[0, 1] scale."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    mix = np.random.default_rng(7).normal(size=(2, 10))
    return (centres[y] + rng.normal(0, 0.5, size=(n, 2))) @ mix * 10 + 50, y


@pytest.mark.filterwarnings("ignore:latent_dim")
def test_transform_inverse_and_scores():
    X, _ = planted()
    est = AutoencoderTransformer(latent_dim=3, hidden=(16,), epochs=40, batch_size=16, lr=3e-3)
    est.set_params(random_state=0)
    codes = est.fit(X).transform(X)
    assert codes.shape == (120, 3) and codes.dtype == X.dtype
    assert est.get_feature_names_out().tolist() == [f"autoencodertransformer{i}" for i in range(3)]
    recon = est.inverse_transform(codes)
    assert recon.shape == X.shape
    # reconstructions live in the original feature scale, and beat predicting the mean
    assert np.mean((recon - X) ** 2) < 0.5 * np.mean((X - X.mean(0)) ** 2)
    typical, outliers = est.score_samples(X[:10]), est.score_samples(X[:10] * -3)
    assert typical.shape == (10,) and np.all(typical <= 0)
    assert typical.mean() > outliers.mean()
    refit = AutoencoderTransformer(**est.get_params()).fit(X).transform(X)
    np.testing.assert_array_equal(refit, codes)  # random_state gives identical fits


def test_pipeline_and_grid_search():
    X, y = planted(150)
    pipe = make_pipeline(
        AutoencoderTransformer(
            latent_dim=2, hidden=(16,), epochs=30, batch_size=16, lr=3e-3, random_state=0
        ),
        LogisticRegression(),
    )
    assert pipe.fit(X, y).score(X, y) > 0.9  # chance is 1/3
    search = GridSearchCV(
        AutoencoderTransformer(hidden=(8,), epochs=3, batch_size=32, random_state=0),
        {"latent_dim": [1, 4]},
        cv=2,
    )
    search.fit(X)
    assert search.best_params_["latent_dim"] in (1, 4)
    assert np.isfinite(search.best_score_)


def test_invalid_parameters_and_shapes():
    X, _ = planted(20)
    with pytest.raises(ValueError, match="latent_dim"):
        AutoencoderTransformer(latent_dim=0).fit(X)
    with pytest.raises(ValueError, match="sparsity"):
        AutoencoderTransformer(sparsity="l2").fit(X)
    with pytest.raises(ValueError, match="n_features = 10"):
        AutoencoderTransformer(image_shape=(1, 3, 3), epochs=1).fit(X)
    with pytest.raises(ValueError, match="family"):
        AutoencoderTransformer(family="transformer", epochs=1).fit(X)
    est = AutoencoderTransformer(latent_dim=2, hidden=(4,), epochs=1).fit(X)
    with pytest.raises(ValueError, match="latent_dim"):
        est.inverse_transform(np.zeros((2, 3)))


def test_conv_family_with_an_image_shape():
    X = np.random.default_rng(0).uniform(size=(24, 64))
    est = AutoencoderTransformer(
        family="conv", latent_dim=4, image_shape=(1, 8, 8), epochs=1, batch_size=8, random_state=0
    ).fit(X)
    assert est.transform(X).shape == (24, 4)
    assert est.inverse_transform(est.transform(X)).shape == (24, 64)


def test_overcomplete_warning_once_at_the_callers_fit():
    """fit() builds the config and then the model: the identity-map warning is shown once,
    naming the line that called fit (this file), not aelab's internals or dataclasses.py."""
    X, _ = planted(32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        AutoencoderTransformer(latent_dim=X.shape[1], epochs=1, random_state=0).fit(X)
    messages = [w for w in caught if "identity map" in str(w.message)]
    assert [Path(w.filename).name for w in messages] == [Path(__file__).name]
