"""Probes: planted separable structure gives accuracy far above chance, and the run's
metrics.json gets its "downstream" section."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.errors import DataError
from aelab.metrics.downstream import PROBES, compare, probe
from aelab.reuse.probe import format_table, probe_run
from aelab.rundir import read_metrics


def blobs(n: int, classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 5, size=(classes, dim))
    y = np.arange(n) % classes
    return centres[y] + rng.normal(0, 1, size=(n, dim)), y


def test_probe_scores_separable_blobs_perfectly_and_noise_at_chance():
    x_train, y_train = blobs(200, 4, 6, 0)
    x_test, y_test = blobs(100, 4, 6, 1)
    scores = probe(x_train, y_train, x_test, y_test)
    assert set(scores) == set(PROBES)
    assert scores["logreg_acc"] == scores["knn_acc"] == 1.0
    assert scores["kmeans_nmi"] > 0.95 and scores["kmeans_ari"] > 0.95
    rng = np.random.default_rng(2)
    noise = probe(rng.normal(size=(200, 6)), y_train, rng.normal(size=(100, 6)), y_test)
    assert noise["logreg_acc"] < 0.5 and noise["kmeans_nmi"] < 0.1
    assert probe(x_train, y_train, x_test, y_test) == scores  # fixed random_state


def test_compare_uses_pca_of_the_code_size():
    x_train, y_train = blobs(120, 3, 20, 0)
    x_test, y_test = blobs(60, 3, 20, 1)
    low, span = x_train.min(), np.ptp(x_train)
    x_train, x_test = (x_train - low) / span, (x_test - low) / span
    results = compare(x_train[:, :4], x_test[:, :4], x_train, x_test, y_train, y_test)
    assert list(results) == ["autoencoder", "pca", "pixels"]
    assert all(set(r) == set(PROBES) for r in results.values())
    table = format_table(results)
    assert "pixels" in table and "logreg_acc" in table


def test_probe_errors():
    with pytest.raises(DataError, match="2 classes"):
        probe(np.zeros((5, 2)), np.zeros(5), np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        probe(np.full((4, 2), np.nan), np.arange(4) % 2, np.zeros((4, 2)), np.arange(4) % 2)
    with pytest.raises(DataError, match="differ"):
        probe(np.zeros((4, 2)), np.arange(4) % 2, np.zeros((4, 3)), np.arange(4) % 2)


def test_probe_run_on_planted_structure(run_dir):
    results = probe_run(run_dir, progress=False)
    ae = results["autoencoder"]
    # 4 classes: chance is 0.25 accuracy and 0 NMI
    assert ae["logreg_acc"] > 0.7, ae
    assert ae["knn_acc"] > 0.7, ae
    assert ae["kmeans_nmi"] > 0.2, ae
    assert results["pixels"]["knn_acc"] > 0.9
    assert read_metrics(run_dir)["downstream"] == results


@pytest.fixture
def counted_probes(monkeypatch):
    """Counts the representations actually probed (the user cache is the test's own)."""
    import aelab.metrics.downstream as downstream

    calls: list[int] = []
    real = downstream.probe

    def counting(train_x, *args, **kwargs):
        calls.append(np.asarray(train_x).reshape(len(train_x), -1).shape[1])
        return real(train_x, *args, **kwargs)

    monkeypatch.setattr(downstream, "probe", counting)
    return calls


def test_baselines_are_cached_per_data_and_code_size(run_dir, tiny_data, counted_probes, tmp_path):
    from aelab.reuse.inference import load
    from aelab.reuse.probe import probe_model

    model = load(run_dir)
    first = probe_model(model, tiny_data)
    assert counted_probes == [8, 8, 144]  # codes, PCA-8, pixels
    files = sorted(p.name for p in (tmp_path / "xdg" / "aelab" / "baselines").iterdir())
    assert [f.rsplit("-", 1)[1] for f in files] == ["pca8.json", "pixels144.json"]
    assert all(f.startswith("tiny-") for f in files)
    counted_probes.clear()
    assert probe_model(model, tiny_data) == first
    assert counted_probes == [8]  # only the codes: both baselines from the cache
    counted_probes.clear()
    probe_model(model, tiny_data, train_limit=100)  # other data, other key
    assert counted_probes == [8, 8, 144]
    counted_probes.clear()
    probe_model(model, tiny_data, cache=False)
    assert counted_probes == [8, 8, 144]


def test_a_damaged_cache_entry_is_computed_again(run_dir, tiny_data, counted_probes, tmp_path):
    from aelab.reuse.inference import load
    from aelab.reuse.probe import probe_model

    model = load(run_dir)
    first = probe_model(model, tiny_data)
    for path in (tmp_path / "xdg" / "aelab" / "baselines").iterdir():
        path.write_text('{"scores": {"logreg_acc": 1.0}')  # truncated JSON
    counted_probes.clear()
    assert probe_model(model, tiny_data) == first
    assert counted_probes == [8, 8, 144]


def test_probe_reports_each_step_and_limits_blas_threads(run_dir, tiny_data, monkeypatch, capsys):
    """Non-terminal stderr: one line per step. Every thread pool runs at the run's
    train.threads (1 here), whatever the machine's default."""
    import torch
    from threadpoolctl import threadpool_info

    import aelab.metrics.downstream as downstream
    import aelab.reuse.probe as probe_module
    import aelab.training.device as device
    from aelab.reuse.inference import load

    monkeypatch.setattr(device, "auto_threads", lambda *a: 1)
    seen: list[int] = []
    real = downstream.probe

    def recording(*args, **kwargs):
        seen.extend(pool["num_threads"] for pool in threadpool_info())
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(downstream, "probe", recording)
    probe_module.probe_model(load(run_dir), tiny_data, progress=True, cache=False)
    assert seen and set(seen) == {1}
    lines = capsys.readouterr().err.splitlines()
    steps = [line for line in lines if line.count(":") == 2]
    assert steps == [
        f"probe: {name}: {step}"
        for name in ("autoencoder", "pca", "pixels")
        for step in downstream.STEPS
    ]
    assert lines[0] == "probe: embedding 240 train and 120 test images"
