"""N2D on generated data: UMAP + a Gaussian mixture recover well-separated blobs, fitted on
one set and scored on another; a missing umap-learn is a one-line error naming the extra."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from aelab.errors import ConfigError
from aelab.metrics.clustering import agreement
from aelab.reuse import n2d as n2d_module
from aelab.reuse.n2d import N2DConfig, check_n2d, n2d

pytest.importorskip("umap", reason="umap-learn (aelab[umap]) is not installed")
# numba compiles UMAP on first use (tens of seconds): one worker pays it once
pytestmark = pytest.mark.xdist_group("umap")


def blobs(n: int, k: int = 5, dim: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` Gaussian blobs (std 1) whose centres are 12 apart in ``dim`` dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(k, dim))
    centres *= 12 / np.linalg.norm(centres[0] - centres[1])
    labels = rng.integers(0, k, n)
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


def test_n2d_recovers_well_separated_blobs_on_held_out_points() -> None:
    fit_x, _ = blobs(600, seed=1)
    test_x, test_y = blobs(300, seed=2)
    result = n2d(fit_x, test_x, 5, N2DConfig(n_neighbors=15), seed=0)
    assert agreement(test_y, result.gmm_assign)["nmi"] > 0.95
    assert agreement(test_y, result.kmeans_assign)["nmi"] > 0.95
    assert result.test_embedding.shape == (300, 5)  # embedding size = clusters by default
    assert set(result.seconds) == {"umap", "gmm", "kmeans_umap"}
    assert result.settings["umap_neighbors"] == 15 and result.settings["umap_min_dist"] == 0.0
    assert result.settings["umap_dims"] == 5 and result.settings["umap_learn"]


def test_n2d_is_deterministic_for_a_seed() -> None:
    fit_x, _ = blobs(300, k=3, seed=3)
    test_x, _ = blobs(100, k=3, seed=4)
    a = n2d(fit_x, test_x, 3, seed=7)
    b = n2d(fit_x, test_x, 3, seed=7)
    np.testing.assert_array_equal(a.test_embedding, b.test_embedding)
    np.testing.assert_array_equal(a.gmm_assign, b.gmm_assign)


def test_missing_umap_is_one_line_naming_the_extra(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        n2d_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "umap" else real(name, *a),
    )
    with pytest.raises(ConfigError) as err:
        n2d(*blobs(50)[:1], blobs(20)[0], 5)
    assert str(err.value) == "umap-learn is not installed: N2D needs it; pip install 'aelab[umap]'."


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="n_neighbors"):
        N2DConfig(n_neighbors=1)
    with pytest.raises(ConfigError, match="covariance"):
        N2DConfig(covariance="round")
    with pytest.raises(ConfigError, match=r"umap_metric='euclidian'.*Did you mean 'euclidean'"):
        check_n2d(N2DConfig(metric="euclidian"))
    check_n2d(N2DConfig(metric="cosine"))


def test_status_names_each_long_step() -> None:
    lines: list[str] = []
    n2d(*blobs(120, k=3)[:1], blobs(30, k=3)[0], 3, N2DConfig(n_init=2), status=lines.append)
    text = "\n".join(lines)
    for step in (
        "nearest-neighbour graph",
        "UMAP fit:",
        "placing 30 test codes",
        "UMAP transform:",
    ):
        assert step in text, text
    assert "Gaussian mixture on the embedding (3 components, full covariance, 2 fits)" in text
    assert "k-means on the embedding:" in text
