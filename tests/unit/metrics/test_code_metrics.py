"""Code statistics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.metrics.code import (
    PCA2D,
    code_statistics,
    hoyer,
    kl_statistics,
    project_2d,
    top_activating,
)


def test_hoyer_of_one_hot_is_one_and_of_uniform_is_zero():
    one_hot = np.eye(5)
    uniform = np.full((2, 5), 0.3)
    assert hoyer(one_hot) == pytest.approx(np.ones(5))
    assert hoyer(uniform) == pytest.approx(np.zeros(2), abs=1e-12)
    assert hoyer(np.zeros((1, 5)))[0] == 1.0  # documented: an all-zero code counts as 1
    assert hoyer(-one_hot) == pytest.approx(np.ones(5))  # magnitude, not sign


def test_known_dead_unit_is_counted():
    codes = np.array([[1.0, 0.0, 0.0, 2.0], [0.5, 0.0, 3.0, 0.0], [0.0, 1e-7, 1.0, 1.0]])
    stats = code_statistics(codes)
    assert stats["dead_units"] == 1  # unit 1 never exceeds the 1e-6 threshold
    assert stats["dead_fraction"] == 0.25
    assert stats["mean_l0"] == pytest.approx(2.0)  # 2, 2, 2 active units
    assert stats["mean_activation"] == pytest.approx([0.5, 1e-7 / 3, 4 / 3, 1.0])
    assert stats["latent_dim"] == 4


def test_kl_matches_closed_form():
    mu = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    logvar = np.array([[0.0, 0.0, np.log(2.0)], [0.0, 0.0, np.log(2.0)]])
    stats = kl_statistics(mu, logvar)
    expected_third = 0.5 * (2.0 - 1.0 - np.log(2.0))
    assert stats["kl_per_dim"] == pytest.approx([0.0, 0.5, expected_third])
    assert stats["active_dims"] == 2


def test_top_activating_orders_by_activation():
    codes = np.array([[0.1, 5.0], [0.9, 1.0], [0.5, 3.0]])
    assert top_activating(codes, 2).tolist() == [[1, 2], [0, 2]]
    assert top_activating(codes, 10).shape == (2, 3)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_project_2d(method):
    codes = np.random.default_rng(0).standard_normal((40, 6))
    points = project_2d(codes, method=method)
    assert points.shape == (40, 2)
    assert project_2d(codes[:, :1]).shape == (40, 2)


def test_project_2d_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown projection"):
        project_2d(np.zeros((4, 3)), method="umap")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_project_2d_of_identical_codes_is_one_point_without_warnings(method):
    """A dead ReLU code (every unit 0 for every image) has no variance to project: one
    point at the origin, not NaNs and sklearn's divide-by-zero warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        points = project_2d(np.zeros((30, 4), dtype=np.float32), method=method)
    assert points.shape == (30, 2) and not points.any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pca2d_matches_scikit_learn_pca(seed):
    """The code maps' NumPy PCA gives scikit-learn's points, signs and inverse."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    codes = (rng.normal(size=(500, 12)) * rng.uniform(0.1, 3.0, size=12)).astype(np.float32)
    reference = PCA(2, random_state=0).fit(codes)
    ours = PCA2D(codes)
    np.testing.assert_allclose(ours.transform(codes), reference.transform(codes), atol=1e-4)
    points = rng.normal(size=(7, 2))
    np.testing.assert_allclose(
        ours.inverse_transform(points), reference.inverse_transform(points), atol=1e-4
    )


def test_evaluation_code_map_does_not_import_scikit_learn():
    """A map of codes needs no scikit-learn import (about 0.9 s of every small evaluation)."""
    import subprocess
    import sys

    probe = (
        "import sys, numpy as np\n"
        "from aelab.metrics.code import project_2d\n"
        "project_2d(np.random.default_rng(0).normal(size=(50, 4)))\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
