"""The metric catalog: one entry per number, consistent with the modules that compute them,
and the lookups every table, ranking and objective goes through."""

from __future__ import annotations

import json
import math

import pytest

from aelab.cli.main import main
from aelab.errors import ConfigError
from aelab.metrics import (
    anomaly_baselines,
    baselines,
    catalog,
    clustering,
    code,
    downstream,
    reconstruction,
)


def test_quoted_settings_match_the_modules_that_own_them() -> None:
    assert catalog.BCE_EPS == reconstruction.BCE_EPS
    assert catalog.PCA_FIT_SAMPLES == baselines.PCA_FIT_SAMPLES
    assert catalog.ACTIVE_THRESHOLD == code.ACTIVE_THRESHOLD
    assert catalog.KL_ACTIVE_THRESHOLD == code.KL_ACTIVE_THRESHOLD
    assert catalog.REPRESENTATIONS == downstream.REPRESENTATIONS
    assert (catalog.KNN_K, catalog.LOGREG_MAX_ITER, catalog.KMEANS_N_INIT) == (
        downstream.KNN_K,
        downstream.LOGREG_MAX_ITER,
        downstream.KMEANS_N_INIT,
    )
    assert catalog.AGREEMENT == clustering.AGREEMENT
    assert set(catalog.ANOMALY_BASELINES) == set(anomaly_baselines.BASELINES)
    assert set(downstream.PROBES) == set(catalog.PROBE_DEFINITIONS)


def test_every_entry_is_complete_and_keys_are_unique() -> None:
    keys = [m.key for m in catalog.METRICS]
    assert len(keys) == len(set(keys))
    for m in catalog.METRICS:
        assert m.definition.endswith(".") and m.label, m.key
        assert m.kind in catalog.KINDS, m.key
        assert m.section in catalog.SECTIONS, m.key
        if m.comparable:
            assert m.higher_is_better is not None, f"{m.key}: a comparable metric needs a direction"
        format(1.5, m.fmt)  # a valid format spec


def test_get_accepts_key_alias_and_path_and_suggests_on_typos() -> None:
    assert catalog.get("test_mse") is catalog.get("reconstruction.mse")
    assert catalog.get("val_loss").key == "best_val_loss"
    assert catalog.get("cluster.scores.idec.nmi").key == "cluster_idec_nmi"
    assert catalog.get("cluster.seconds.idec").key == "cluster_seconds"  # a pattern
    with pytest.raises(ConfigError, match="Did you mean 'test_mse'"):
        catalog.get("test_mes")


def test_rankings_use_only_scores_that_mean_the_same_for_every_run() -> None:
    assert catalog.rankable("test_ssim").direction == "maximize"
    assert catalog.rankable("test_mse").direction == "minimize"
    with pytest.raises(ConfigError, match="own loss"):
        catalog.rankable("test_loss")
    with pytest.raises(ConfigError, match="own loss"):
        catalog.rankable("val_loss")
    with pytest.raises(ConfigError, match="not a score"):
        catalog.rankable("parameters")


def test_best_follows_the_direction() -> None:
    assert catalog.get("test_ssim").best([0.5, None, 0.9, 0.7]) == 0.9
    assert catalog.get("test_mse").best([0.5, None, 0.9, 0.1]) == 0.1
    assert catalog.get("parameters").best([1, 2]) is None


def test_lookup_reads_nested_values_and_infinite_psnr() -> None:
    metrics = {
        "reconstruction": {"mse": 0.01, "psnr": None, "psnr_infinite": True},
        "downstream": {"autoencoder": {"logreg_acc": 0.8}},
    }
    assert catalog.lookup(metrics, "test_mse") == 0.01
    assert catalog.lookup(metrics, "test_psnr") == math.inf
    assert catalog.lookup(metrics, "logreg_acc") == 0.8
    assert catalog.lookup(metrics, "cluster_idec_nmi") is None


def test_undocumented_names_the_paths_no_entry_describes() -> None:
    metrics = {"reconstruction": {"mse": 0.1, "wobble": 3}, "cluster": {"seconds": {"umap": 2.0}}}
    assert catalog.undocumented(metrics) == ["reconstruction.wobble"]


def test_aelab_metrics_json_lists_every_metric_with_definition_and_direction(capsys) -> None:
    assert main(["metrics", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["key"] for m in listed] == [m.key for m in catalog.METRICS]
    mse = next(m for m in listed if m["key"] == "test_mse")
    assert mse["path"] == "reconstruction.mse" and mse["direction"] == "minimize"
    assert mse["comparable"] is True and "squared error" in mse["definition"]


def test_aelab_metrics_table_filters_by_section_and_rankable(capsys) -> None:
    assert main(["metrics", "--section", "cluster", "--rankable"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["KEY", "PATH", "BEST", "SAME"]
    keys = [line.split()[0] for line in lines[1:]]
    assert "cluster_idec_nmi" in keys and "cluster_seconds" not in keys
    assert all(k.startswith("cluster_") for k in keys)
