"""The interactive report: the map files round-trip, each sprite tile is its image, and the
page embeds BokehJS inline with the map and the loss curves (no CDN)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from aelab.report import render_report
from aelab.report.interactive import (
    CodeMapData,
    add_map_column,
    read_code_map,
    task_columns,
    write_code_map,
)
from aelab.viz.interactive import SpriteLayout, sprite_sheet


def map_data(n=23, shape=(1, 5, 7), labels=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    layout = SpriteLayout.for_images(n, *shape[1:])
    codes = rng.normal(size=(n, 4)).astype(np.float32)
    return images, CodeMapData(
        points=codes[:, :2],
        codes=codes,
        error=rng.random(n).astype(np.float32),
        labels=rng.integers(0, 3, n) if labels else None,
        activity=np.abs(codes).mean(1),
        active=np.full(n, 4),
        projection="PCA",
        image_shape=shape,
        class_names=("a", "b", "c") if labels else None,
        sprites={
            "originals": sprite_sheet(images, layout),
            "reconstructions": sprite_sheet(images, layout),
        },
    )


@pytest.mark.parametrize("shape", [(1, 5, 7), (3, 4, 4)])
def test_every_sprite_tile_is_its_image(shape):
    images, data = map_data(shape=shape)
    layout = SpriteLayout.for_images(len(images), *shape[1:])
    sheet = np.asarray(Image.open(io.BytesIO(data.sprites["originals"])))
    sheet = sheet[..., None] if sheet.ndim == 2 else sheet
    assert sheet.shape[:2] == (layout.rows * shape[1], layout.columns * shape[2])
    _, h, w = shape
    for i in (0, 5, len(images) - 1):
        r, k = divmod(i, layout.columns)
        np.testing.assert_array_equal(
            sheet[r * h : (r + 1) * h, k * w : (k + 1) * w], images[i].transpose(1, 2, 0)
        )
    # the tooltip's CSS offset of tile i is its place on the sheet at the shown scale
    x, y = (float(v.removesuffix("px")) for v in layout.positions()[7].split())
    r, k = divmod(7, layout.columns)
    assert (-x, -y) == pytest.approx((k * w * layout.scale, r * h * layout.scale), abs=0.01)


def test_map_files_round_trip(tmp_path):
    _, data = map_data()
    write_code_map(tmp_path, data)
    back = read_code_map(tmp_path)
    for name in ("points", "codes", "error", "labels", "activity", "active"):
        np.testing.assert_array_equal(getattr(back, name), getattr(data, name))
    assert back.class_names == data.class_names and back.image_shape == data.image_shape
    assert back.sprites == data.sprites
    assert add_map_column(tmp_path, "cluster", np.arange(len(data)) % 2)
    assert list(read_code_map(tmp_path).extra) == ["cluster"]
    assert "cluster" in read_code_map(tmp_path).categorical()
    assert not add_map_column(tmp_path, "cluster", np.zeros(3))  # wrong length: refused
    assert read_code_map(tmp_path / "nothing") is None


def test_anomaly_scores_become_a_colour(tmp_path):
    (tmp_path / "anomaly").mkdir()
    (tmp_path / "anomaly/scores.csv").write_text(
        "index,label,reconstruction,code,combined\n1,0,0.1,0.2,2.5\n0,1,0.1,0.2,-1.0\n"
    )
    np.testing.assert_array_equal(task_columns(tmp_path, 2)["anomaly_score"], [-1.0, 2.5])
    assert task_columns(tmp_path, 3) == {}  # does not cover the test set: not shown


def test_report_embeds_the_map_and_curves_inline(run_dir):
    _, data = map_data()
    write_code_map(run_dir, data)
    (run_dir / "history.csv").write_text(
        "epoch,train_loss,val_loss,seconds,lr\n1,0.5,0.6,1,0.001\n2,0.4,0.5,1,0.001\n"
    )
    html = render_report(run_dir).read_text()
    assert 'id="code-map"' in html and 'id="loss-curves"' in html
    assert "--aelab-sprite-originals: url(data:image/png;base64," in html
    assert html.count("--aelab-sprite-originals: url(") == 1  # one sheet, not one URI per point
    assert "cdn.bokeh.org" not in html and "<script src=" not in html
    assert "per-image error" in html and "train_loss" in html and '"lr"' not in html


def test_report_without_map_data_has_no_map(run_dir):
    html = render_report(run_dir).read_text()
    assert 'id="code-map"' not in html
