"""The anomaly-map figure: three rows of tiles, the maps on one shared colour scale."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.viz.anomaly_maps import anomaly_maps_figure


def test_images_reconstructions_and_maps_side_by_side():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 1, 8, 8), dtype=np.uint8)
    recon = rng.random((4, 1, 8, 8), dtype=np.float32)
    maps = rng.random((4, 8, 8), dtype=np.float32) * [[[1]], [[2]], [[3]], [[4]]]
    fig = anomaly_maps_figure(images, recon, maps, title="t", labels=["a", "b", "c", "d"])
    tiles = [ax for ax in fig.axes if ax.images]
    assert len(tiles) == 12
    map_images = [ax.images[0] for ax in tiles if ax.images[0].get_cmap().name == "inferno"]
    assert len(map_images) == 4
    assert {im.get_clim() for im in map_images} == {(0.0, float(maps.max()))}
    assert fig.axes[0].get_title() == "a"
    with pytest.raises(ValueError, match="maps"):
        anomaly_maps_figure(images, recon, maps[:2], title="t")
