"""The code map the evaluation stores: per-image errors are the images' MSE, the PCA map
inverts exactly on its plane, and the figure set "basic" stores none."""

from __future__ import annotations

import numpy as np
import pytest

import fakedata
from aelab.api import build_model
from aelab.config import RunConfig
from aelab.evaluation.code_map import build_code_map, fit_projection
from aelab.models.apply import encode_images, reconstruct_images


def test_build_code_map_on_a_model():
    cfg = RunConfig.from_dict(
        {"name": "t", "model": {"family": "dense", "latent_dim": 4, "hidden": [16]}}
    )
    model = build_model(cfg, input_shape=(1, 8, 8)).eval()
    data = fakedata.tiny_splits(60, (1, 8, 8), classes=3, n_test=30, val=10, name="bars")
    images = data.test.images
    codes = encode_images(model, images)
    out = build_code_map(model, images, data.test.labels, codes, class_names=("x", "y", "z"))
    recon = reconstruct_images(model, images)
    expected = ((recon - images / 255.0) ** 2).reshape(len(images), -1).mean(1)
    np.testing.assert_allclose(out.error, expected, rtol=1e-5)
    assert out.points.shape == (30, 2) and set(out.sprites) == {"originals", "reconstructions"}
    assert out.label_names()[0] in ("x", "y", "z")
    assert next(iter(out.colour_values())) == "class"


def test_pca_map_inverse_is_exact_on_its_plane():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6)) + 3.0  # rank 2 + offset
    fitted = fit_projection(codes.astype(np.float32), "pca")
    np.testing.assert_allclose(fitted.inverse(fitted.points), codes, atol=1e-4)
    np.testing.assert_allclose(fitted.transform(codes.astype(np.float32)), fitted.points, atol=1e-4)


def test_tsne_map_cannot_be_decoded():
    from aelab.errors import ConfigError

    codes = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    fitted = fit_projection(codes, "tsne")
    assert fitted.points.shape == (40, 2) and not fitted.can_transform
    with pytest.raises(ConfigError, match="PCA or UMAP"):
        fitted.inverse(fitted.points[:1])


def test_evaluate_stores_map_files_only_for_all_figures(tmp_path):
    from aelab.evaluation.evaluate import evaluate_run
    from explore_run import explore_run

    data, run = explore_run(tmp_path / "r", epochs=2)
    assert {p.name for p in (run / "figures/code_map").iterdir()} == {
        "points.npz",
        "originals.png",
        "reconstructions.png",
    }
    html = (run / "report.html").read_text()
    assert 'id="code-map"' in html and "anomaly score" in html  # anomaly/scores.csv colour
    import shutil

    shutil.rmtree(run / "figures")
    evaluate_run(run, data=data, figures="basic", quiet=True, device="cpu")
    assert not (run / "figures/code_map").exists()
