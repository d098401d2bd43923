"""DEC/IDEC pieces on known answers, and the clustering protocol on a tiny trained run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aelab.errors import ConfigError
from aelab.reuse.cluster import (
    METHODS,
    ClusterConfig,
    cluster_model,
    kl_loss,
    soft_assign,
    target_distribution,
    to_markdown,
    write_cluster,
)
from aelab.reuse.embed import run_data
from aelab.reuse.inference import load


def test_student_t_soft_assignment_known_answer():
    z = np.array([[0.0, 0.0], [1.0, 0.0]])
    centers = np.array([[0.0, 0.0], [1.0, 0.0]])
    # alpha = 1: kernel 1 / (1 + d^2) = 1 and 1/2 -> q = (2/3, 1/3)
    np.testing.assert_allclose(soft_assign(z, centers), [[2 / 3, 1 / 3], [1 / 3, 2 / 3]])
    # alpha = 2: (1 + d^2 / 2)^(-3/2) = 1 and (2/3)^(3/2)
    k = (2 / 3) ** 1.5
    np.testing.assert_allclose(soft_assign(z, centers, 2.0)[0], [1 / (1 + k), k / (1 + k)])
    as_tensor = soft_assign(torch.tensor(z), torch.tensor(centers))
    np.testing.assert_allclose(as_tensor.numpy(), soft_assign(z, centers))


def test_target_distribution_sharpens_and_rows_sum_to_one():
    q = np.array([[0.9, 0.1], [0.5, 0.5]])
    # f = (1.4, 0.6); q^2 / f = (0.5786, 0.0167) and (0.1786, 0.4167), rows normalised
    np.testing.assert_allclose(target_distribution(q), [[0.972, 0.028], [0.3, 0.7]], atol=1e-4)
    q = np.random.default_rng(0).dirichlet(np.ones(5), size=50)
    p = target_distribution(q)
    np.testing.assert_allclose(p.sum(1), 1.0)
    # with equal cluster sizes every confident assignment becomes more confident
    q = np.array([[0.7, 0.3], [0.3, 0.7]])
    assert (target_distribution(q).max(1) > q.max(1)).all()


def test_kl_loss_is_zero_only_at_the_target():
    q = torch.tensor([[0.9, 0.1], [0.5, 0.5]])
    assert float(kl_loss(q, q)) == pytest.approx(0.0, abs=1e-7)
    assert float(kl_loss(q, torch.as_tensor(target_distribution(q.numpy())))) > 0


def test_config_names_the_bad_field():
    with pytest.raises(ConfigError, match="tol"):
        ClusterConfig(tol=1.5)
    with pytest.raises(ConfigError, match="n_clusters"):
        ClusterConfig(n_clusters=1)
    with pytest.raises(ConfigError, match="'dec' is not a clustering method"):
        ClusterConfig(methods=("dec",))


def test_methods_always_include_the_kmeans_baselines_in_order():
    assert ClusterConfig().methods == ("kmeans", "idec")
    assert ClusterConfig(methods=("n2d",)).methods == ("kmeans", "n2d")
    assert ClusterConfig(methods=("n2d", "idec", "n2d")).methods == ("kmeans", "idec", "n2d")
    assert ClusterConfig(methods=("n2d",)).runs("n2d") and not ClusterConfig().runs("n2d")


def test_protocol_on_a_tiny_run(run_dir, tmp_path):
    model = load(run_dir)
    data = run_data(model.config, progress=False)
    frozen = model.encode(data.test.images)
    cfg = ClusterConfig(n_init=2, max_iter=30, update_interval=10, tol=0.0)
    lines: list[str] = []
    result = cluster_model(model, data, cfg, status=lines.append)
    assert list(result.scores) == ["pixels", "pca", "code", "idec"] and result.n_clusters == 4
    assert result.n2d is None and "umap" not in result.section()
    for scores in result.scores.values():
        assert all(np.isfinite(v) and -1 <= v <= 1 for v in scores.values())
    # planted classes: the codes cluster far better than chance (accuracy 0.25)
    assert result.scores["code"]["acc"] > 0.6, result.scores
    # tol 0 never stops early: 30 steps, a target every 10, and the encoder moved
    idec = result.idec
    assert [row["step"] for row in idec.history] == [0, 10, 20, 30]
    assert not idec.converged and idec.iterations == 30
    assert not np.allclose(idec.test_codes, frozen)
    assert any("IDEC step 30/30" in line for line in lines)
    assert idec.test_assign.shape == (120,) and set(idec.test_assign) <= set(range(4))

    out = write_cluster(tmp_path, result, data)
    for name in ("cluster.json", "cluster.md", "codes_by_cluster.png", "clusters.png"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())["cluster"]
    assert saved["scores"]["idec"] == pytest.approx(result.scores["idec"])
    assert saved["settings"]["methods"] == "kmeans, idec"
    table = to_markdown(result)
    assert "k-means: frozen code" in table and "IDEC" in table and "2 restarts" in table
    assert "N2D" not in table


def test_kmeans_only_skips_idec(run_dir):
    model = load(run_dir)
    data = run_data(model.config, progress=False)
    result = cluster_model(model, data, ClusterConfig(methods=("kmeans",), n_init=2))
    assert list(result.scores) == ["pixels", "pca", "code"] and result.idec is None
    assert "idec" not in result.section() and "idec" not in result.seconds
    np.testing.assert_array_equal(
        model.encode(data.test.images[:5]), load(run_dir).encode(data.test.images[:5])
    )  # nothing fine-tuned


@pytest.mark.xdist_group("umap")
def test_n2d_beside_the_baselines_on_a_tiny_run(run_dir, tmp_path):
    """N2D on the frozen codes of the planted-class run: its two columns after the
    baselines and IDEC, its settings under "umap", and its figures; every number of the
    section is in the catalog."""
    pytest.importorskip("umap", reason="umap-learn (aelab[umap]) is not installed")
    from aelab.metrics.catalog import undocumented

    model = load(run_dir)
    data = run_data(model.config, progress=False)
    cfg = ClusterConfig(methods=("n2d", "idec"), n_init=2, max_iter=10, update_interval=5)
    lines: list[str] = []
    result = cluster_model(model, data, cfg, status=lines.append)
    assert list(result.scores) == list(METHODS)  # every method, in table order
    # the shifted bars of 240 images make no clean manifold (the blobs of test_n2d.py are
    # the known answer), but the planted classes show: chance is NMI ~0
    assert result.scores["n2d"]["nmi"] > 0.4, result.scores
    assert result.dims["n2d"] == result.dims["umap_kmeans"] == 4
    section = result.section()
    assert section["umap"]["umap_neighbors"] == 20 and section["settings"]["seed"] == 0
    assert {"umap", "gmm", "kmeans_umap"} <= set(section["seconds"])
    assert any(line.startswith("UMAP: nearest-neighbour graph") for line in lines)
    assert undocumented({"cluster": section}) == []

    out = write_cluster(tmp_path, result, data)
    for stem in ("n2d_by_cluster", "n2d_by_class", "n2d_clusters", "codes_by_cluster"):
        assert (out / f"{stem}.png").stat().st_size > 0
    table = (out / "cluster.md").read_text()
    assert "| N2D: mixture on UMAP of the code | 4 |" in table and "n_neighbors 20" in table
    # a later run without IDEC removes IDEC's figures: the report shows what the section has
    again = cluster_model(
        model, data, ClusterConfig(methods=("n2d",), n_init=2), status=lines.append
    )
    write_cluster(tmp_path, again, data)
    assert not (out / "codes_by_cluster.png").exists() and (out / "n2d_by_class.png").exists()
