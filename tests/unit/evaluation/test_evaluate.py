"""evaluate_run end to end on tiny data, and every figure for every registered family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fakedata
from aelab.api import build_model
from aelab.config import RunConfig
from aelab.errors import DataError
from aelab.evaluation.evaluate import (
    FigureInputs,
    decoder_weight_tiles,
    evaluate_run,
    write_figures,
)
from aelab.models import list_models
from aelab.models.apply import encode_images

# the smallest honest model of each family on 8x8 images; unknown families get defaults
TINY = {
    "dense": {"hidden": [16]},
    "conv": {"channels": [4, 8]},
    "lstm": {"hidden": 8},
    "vae": {"hidden": [16]},
}
ALWAYS = {"reconstructions", "loss_curves", "code_activity", "features", "code_map"}


def tiny_splits(shape=(1, 8, 8)):
    return fakedata.tiny_splits(96, shape, classes=3, n_test=30, val=24, name="bars")


def history():
    return [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2)]


CASES = [
    *[(family, (1, 8, 8), {}) for family in list_models()],
    ("dense", (3, 8, 8), {"hidden": [], "sparsity": {"kind": "l1", "weight": 1e-4},
                          "noise": {"kind": "gaussian", "level": 0.2}}),
    ("conv", (3, 8, 8), {"sparsity": {"kind": "topk", "k": 2}}),
    ("vae", (3, 8, 8), {"encoder": "conv", "channels": [4, 8]}),
]  # fmt: skip


@pytest.mark.parametrize(("family", "shape", "extra"), CASES)
def test_every_figure_for_every_family(family, shape, extra, tmp_path):
    cfg = RunConfig.from_dict(
        {
            "name": "tiny",
            "model": {"family": family, "latent_dim": 4, **TINY.get(family, {}), **extra},
        }
    )
    model = build_model(cfg, input_shape=shape).eval()
    data = tiny_splits(shape)
    codes = encode_images(model, data.test.images)
    inputs = FigureInputs(
        model=model, config=cfg, run_name="tiny", dataset=data.name, images=data.test.images,
        labels=data.test.labels, codes=codes, class_names=data.classes, history=history(),
        tsne=family == "dense",
    )  # fmt: skip
    written = {p.stem for p in write_figures(inputs, tmp_path)}
    expected = set(ALWAYS)
    if family == "dense":
        expected.add("code_map_tsne")
    if cfg.model.noise.kind != "none":
        expected.add("denoising")
    if cfg.model.sparsity.kind != "none":
        expected.add("top_activating")
    if model.is_generative:
        expected |= {"vae_samples", "vae_interpolation"}
    if decoder_weight_tiles(model) is not None:  # one linear layer maps code to pixels
        expected.add("decoder_weights")
    assert written == expected
    assert all((tmp_path / f"{stem}.png").stat().st_size > 1000 for stem in written)


def test_evaluate_run_on_a_trained_run(tmp_path):
    from aelab.training import train

    data = tiny_splits()
    cfg = RunConfig.from_dict({
        "name": "tiny-eval",
        "model": {"family": "dense", "latent_dim": 4, "hidden": [16],
                  "sparsity": {"kind": "l1", "weight": 1e-4}},
        "train": {"epochs": 2, "batch_size": 32, "threads": 1, "device": "cpu"},
    })  # fmt: skip
    run_dir = tmp_path / "run"
    train(cfg, run_dir, data=data, quiet=True)
    out = evaluate_run(run_dir, data=data, quiet=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for section in ("reconstruction", "code", "pca"):
        assert metrics[section] == out[section]
    rec, code, pca = metrics["reconstruction"], metrics["code"], metrics["pca"]
    assert rec["n_images"] == 30 and 0 < rec["mse"] < 0.5 and rec["bce"] > 0
    assert -1 <= rec["ssim"] <= 1 and rec["psnr"] > 0
    assert 0 <= code["dead_units"] <= 4 and len(code["mean_activation"]) == 4
    assert pca["latent_dim"] == 4 and pca["mse_ratio"] == pytest.approx(rec["mse"] / pca["mse"])
    figures = {p.stem for p in (run_dir / "figures").glob("*.png")}
    assert ALWAYS | {"top_activating"} <= figures
    html = (run_dir / "report.html").read_text()
    assert "<title>aelab report: tiny-eval</title>" in html
    assert html.count('<img src="data:image/png') == len(figures)  # BokehJS has "<img "
    with pytest.raises(DataError, match=r"expects images of shape \[1, 8, 8\]"):
        evaluate_run(run_dir, data=tiny_splits((1, 6, 6)), quiet=True)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from aelab.training import train

    data = tiny_splits()
    cfg = RunConfig.from_dict({
        "name": "tiny-figures",
        "model": {"family": "dense", "latent_dim": 4, "hidden": [16]},
        "train": {"epochs": 1, "batch_size": 32, "threads": 1, "device": "cpu",
                  "figures": "basic"},
    })  # fmt: skip
    run_dir = tmp_path_factory.mktemp("figures") / "run"
    train(cfg, run_dir, data=data, quiet=True)
    return run_dir, data


@pytest.mark.parametrize(
    ("figures", "expected"),
    [(None, {"reconstructions", "loss_curves"}), ("none", set()), ("all", ALWAYS)],
)
def test_evaluate_draws_the_figure_set_asked_for(tiny_run, figures, expected):
    import shutil

    run_dir, data = tiny_run
    shutil.rmtree(run_dir / "figures", ignore_errors=True)
    out = evaluate_run(run_dir, data=data, quiet=True, figures=figures)
    written = {p.stem for p in (run_dir / "figures").glob("*.png")}
    assert {Path(p).stem for p in out["figures"]} == written
    assert written == expected
    html = (run_dir / "report.html").read_text()
    assert html.count('<img src="data:image/png') == len(written)  # BokehJS has "<img "


def test_evaluate_says_when_t_sne_starts(tiny_run, capsys):
    run_dir, data = tiny_run
    evaluate_run(run_dir, data=data, tsne=True, figures="all")
    assert "evaluate: t-SNE map of 30 test codes" in capsys.readouterr().out


def test_unknown_figure_set_is_a_config_error():
    from aelab.errors import ConfigError

    with pytest.raises(ConfigError, match="figures"):
        RunConfig.from_dict({"train": {"figures": "some"}})
