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


def test_protocol_on_a_tiny_run(run_dir, tmp_path):
    model = load(run_dir)
    data = run_data(model.config, progress=False)
    frozen = model.encode(data.test.images)
    cfg = ClusterConfig(n_init=2, max_iter=30, update_interval=10, tol=0.0)
    lines: list[str] = []
    result = cluster_model(model, data, cfg, status=lines.append)
    assert set(result.scores) == set(METHODS) and result.n_clusters == 4
    for scores in result.scores.values():
        assert all(np.isfinite(v) and -1 <= v <= 1 for v in scores.values())
    # planted classes: the codes cluster far better than chance (accuracy 0.25)
    assert result.scores["code"]["acc"] > 0.6, result.scores
    # tol 0 never stops early: 30 steps, a target every 10, and the encoder moved
    assert [row["step"] for row in result.history] == [0, 10, 20, 30]
    assert not result.converged and result.iterations == 30
    assert not np.allclose(result.test_codes, frozen)
    assert any("IDEC step 30/30" in line for line in lines)
    assert result.test_assign.shape == (120,) and set(result.test_assign) <= set(range(4))

    out = write_cluster(tmp_path, result, data)
    for name in ("cluster.json", "cluster.md", "codes_by_cluster.png", "clusters.png"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())["cluster"]
    assert saved["scores"]["idec"] == pytest.approx(result.scores["idec"])
    table = to_markdown(result)
    assert "k-means: frozen code" in table and "IDEC" in table and "2 restarts" in table
