"""The PCA baseline: exact on data of rank k, and scored like the autoencoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aelab.metrics.baselines import as_float_images, fit_pca, pca_baseline, pca_reconstruct


def rank_k_images(n: int, k: int, seed: int) -> np.ndarray:
    """(n, 1, 6, 6) floats in [0, 1] in one k-dimensional affine subspace (fixed basis);
    ``seed`` picks the points."""
    basis = np.random.default_rng(1234).standard_normal((k, 36))
    coeffs = np.random.default_rng(seed).uniform(-1, 1, (n, k))
    x = 0.5 + 0.4 * (coeffs @ basis) / np.abs(basis).sum(axis=0).max()
    assert x.min() >= 0 and x.max() <= 1
    return x.reshape(n, 1, 6, 6).astype(np.float32)


def test_pca_on_rank_k_data_reconstructs_exactly_at_k():
    train = rank_k_images(80, 4, seed=0)
    test = rank_k_images(20, 4, seed=1)  # new points of the same subspace
    exact = pca_baseline(train, test, 4, ae_mse=0.01)
    assert exact["latent_dim"] == 4
    assert exact["mse"] < 1e-10 and exact["mse_unclipped"] < 1e-10
    assert exact["ssim"] == pytest.approx(1.0, abs=1e-4)
    fewer = pca_baseline(train, test, 2)
    assert fewer["mse"] > 1e-4
    assert fewer["mse_ratio"] is None
    json.dumps(exact, allow_nan=False)


def test_mse_ratio_is_autoencoder_over_pca():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (50, 1, 6, 6), dtype=np.uint8)
    test = rng.integers(0, 256, (10, 1, 6, 6), dtype=np.uint8)
    out = pca_baseline(train, test, 3, ae_mse=0.05)
    assert out["mse_ratio"] == pytest.approx(0.05 / out["mse"])
    assert set(out) >= {"latent_dim", "mse", "bce", "psnr", "ssim", "mse_ratio"}


def test_components_never_exceed_the_data():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5, 1, 4, 4), dtype=np.uint8)
    assert fit_pca(train, 64).n_components_ == 5


def test_uint8_and_float_inputs_agree():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 3, 4, 4), dtype=np.uint8)
    assert np.allclose(as_float_images(images), as_float_images(images / 255.0))
    pca = fit_pca(images, 2)
    assert pca_reconstruct(pca, images).shape == images.shape


def test_ratio_is_null_with_a_reason_when_the_code_has_as_many_dims_as_pixels():
    train = rank_k_images(80, 4, seed=0)
    test = rank_k_images(20, 4, seed=1)
    out = pca_baseline(train, test, 36, ae_mse=0.01)  # 36 = 6*6 pixels
    assert out["mse_ratio"] is None
    assert "36 pixels" in out["mse_ratio_note"]
    assert "mse_ratio_note" not in pca_baseline(train, test, 4, ae_mse=0.01)


def test_cached_pca_scores_fit_once_per_data_and_code_size(monkeypatch, tmp_path):
    from aelab.metrics import baselines

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fits: list[int] = []
    real = baselines.pca_scores

    def counting(train, test, latent_dim, **kw):
        fits.append(latent_dim)
        return real(train, test, latent_dim, **kw)

    monkeypatch.setattr(baselines, "pca_scores", counting)
    train, test = rank_k_images(80, 4, seed=0), rank_k_images(20, 4, seed=1)
    first = baselines.cached_pca_scores("toy", train, test, 3)
    again = baselines.cached_pca_scores("toy", train, test, 3)
    assert fits == [3] and again == pytest.approx(first)  # read back, not refitted
    assert first == pytest.approx(baselines.pca_scores(train, test, 3))
    [entry] = (tmp_path / "aelab" / "baselines").glob("toy-*-pca-recon3.json")
    entry.write_text("{not json")  # a damaged entry is recomputed and rewritten
    fits.clear()
    assert baselines.cached_pca_scores("toy", train, test, 3) == pytest.approx(first)
    assert fits == [3] and json.loads(entry.read_text())["scores"]["latent_dim"] == 3
    fits.clear()
    baselines.cached_pca_scores("toy", train, test, 2)  # another code size
    baselines.cached_pca_scores("toy", train, test[:10], 3)  # another test set
    baselines.cached_pca_scores("toy", train, test, 3, seed=1)  # another seed
    baselines.cached_pca_scores("toy", train, test, 3, cache=False)
    assert fits == [2, 3, 3, 3]


def test_with_ratio_matches_the_uncached_baseline():
    from aelab.metrics.baselines import pca_scores, with_ratio

    train, test = rank_k_images(80, 4, seed=0), rank_k_images(20, 4, seed=1)
    assert with_ratio(pca_scores(train, test, 3), 3, 36, 0.01) == pytest.approx(
        pca_baseline(train, test, 3, ae_mse=0.01)
    )
    wide = with_ratio(pca_scores(train, test, 36), 36, 36, 0.01)
    assert wide["mse_ratio"] is None and "36 >= 36 pixels" in wide["mse_ratio_note"]
