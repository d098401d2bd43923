"""`aelab cluster` colours the report's code map by cluster: the final method's test
assignments (N2D's mixture when it ran, else IDEC's) become the map's "cluster" column,
only when the run has a stored map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.report.interactive import CodeMapData, read_code_map, write_code_map
from aelab.reuse.cluster import ClusterResult, IdecResult, final_assignments, map_clusters
from aelab.reuse.cluster_config import DEFAULT_CONFIG
from aelab.reuse.n2d import N2DResult

N, K = 30, 3


def stored_map(run_dir: Path) -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(N, 4)).astype(np.float32)
    write_code_map(
        run_dir,
        CodeMapData(
            points=codes[:, :2],
            codes=codes,
            error=rng.random(N).astype(np.float32),
            labels=rng.integers(0, K, N),
            activity=np.abs(codes).mean(1),
            active=np.full(N, 4),
            projection="PCA",
            image_shape=(1, 4, 4),
        ),
    )


def result(idec: np.ndarray | None = None, n2d: np.ndarray | None = None) -> ClusterResult:
    rng = np.random.default_rng(1)
    return ClusterResult(
        config=DEFAULT_CONFIG,
        n_clusters=K,
        n_fit=60,
        n_test=N,
        dims={},
        scores={},
        seconds={},
        idec=None
        if idec is None
        else IdecResult([], 1, True, 0.0, rng.normal(size=(N, 4)), idec, np.ones(N)),
        n2d=None
        if n2d is None
        else N2DResult(np.zeros((60, 2)), np.zeros((N, 2)), n2d, n2d, np.ones(N), {}, {}),
    )


def test_idec_assignments_colour_the_stored_map(tmp_path: Path) -> None:
    stored_map(tmp_path)
    assign = np.arange(N) % K
    assert map_clusters(tmp_path, result(idec=assign))
    data = read_code_map(tmp_path)
    assert data is not None
    np.testing.assert_array_equal(data.extra["cluster"], assign)
    assert "cluster" in data.categorical() and "cluster" in data.colour_values()
    # a later clustering replaces the column
    assert map_clusters(tmp_path, result(idec=(assign + 1) % K))
    np.testing.assert_array_equal(read_code_map(tmp_path).extra["cluster"], (assign + 1) % K)


def test_n2d_is_the_final_method_when_it_ran() -> None:
    idec, n2d = np.zeros(N, dtype=int), np.arange(N) % K
    np.testing.assert_array_equal(final_assignments(result(idec=idec, n2d=n2d)), n2d)
    np.testing.assert_array_equal(final_assignments(result(idec=idec)), idec)
    assert final_assignments(result()) is None


def test_no_map_or_no_assignments_writes_nothing(tmp_path: Path) -> None:
    assert not map_clusters(tmp_path, result(idec=np.zeros(N, dtype=int)))
    assert read_code_map(tmp_path) is None  # no map created out of nothing
    stored_map(tmp_path)
    assert not map_clusters(tmp_path, result())  # only the k-means baselines ran
    assert not map_clusters(tmp_path, result(idec=np.zeros(N + 1, dtype=int)))  # other test set
    assert "cluster" not in read_code_map(tmp_path).extra
