"""aelab.studies.sweep: typed values, the grid, run naming, resumption (only missing runs
retrain) and plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aelab.errors import ConfigError
from aelab.rundir import read_metrics
from aelab.studies.runner import RunState
from aelab.studies.sweep import (
    Point,
    Vary,
    grid,
    parse_vary,
    point_config,
    point_name,
    run_sweep,
    split_values,
    sweep_configs,
)


def test_parse_vary_and_grid() -> None:
    assert split_values("2, 4,8") == ["2", "4", "8"]
    assert split_values("[256],[512,256]") == ["[256]", "[512,256]"]
    v = parse_vary("model.latent_dim=2,4,8")
    assert v == Vary("model.latent_dim", (2, 4, 8), ("2", "4", "8"))
    assert all(type(x) is int for x in v.values)
    kinds = parse_vary("model.sparsity.kind=l1,topk")
    assert kinds.values == ("l1", "topk") and kinds.labels == ("l1", "topk")
    weights = parse_vary("model.sparsity.weight=1e-5,1e-4")
    assert weights.values == (1e-5, 1e-4) and weights.labels == ("1e-5", "1e-4")  # as written
    hidden = parse_vary("model.hidden=[256],[512,256]")
    assert hidden.values == ([256], [512, 256])
    assert Vary("model.latent_dim", (4, 32)).labels == ("4", "32")
    points = grid([v, parse_vary("train.lr=1e-3,1e-2")])
    assert len(points) == 6
    assert points[1] == Point(
        {"model.latent_dim": 2, "train.lr": 0.01}, {"model.latent_dim": "2", "train.lr": "1e-2"}
    )
    assert points[1].name == "latent_dim-2_lr-1e-2"
    for bad in ("model.latent_dim", "latent_dim=2", "model.latent_dim=", "model.latent_dim=2,2"):
        with pytest.raises(ConfigError, match="vary"):
            parse_vary(bad)
    with pytest.raises(ConfigError, match="twice"):
        grid([v, v])


def test_point_names_are_readable_and_unique() -> None:
    assert point_name({"model.latent_dim": "8"}) == "latent_dim-8"
    assert (
        point_name({"model.latent_dim": "8", "model.sparsity.weight": "1e-5"})
        == "latent_dim-8_weight-1e-5"
    )
    assert point_name({"model.hidden": "[512, 256]"}) == "hidden-512-256"
    # Two keys ending alike keep their full path.
    assert (
        point_name({"model.sparsity.weight": "1", "train.weight": "2"}).count("model.sparsity") == 1
    )


def test_point_config_applies_sets_epochs_then_point(base_config) -> None:
    cfg = point_config(
        base_config,
        {"model.latent_dim": 4},
        sets={"model.latent_dim": 16, "train.lr": 0.01},
        epochs=3,
    )
    assert cfg.model.latent_dim == 4 and cfg.train.lr == 0.01 and cfg.train.epochs == 3
    configs, _ = sweep_configs(base_config, [parse_vary("model.latent_dim=2,4")])
    assert list(configs) == ["latent_dim-2", "latent_dim-4"]
    assert configs["latent_dim-4"].name == "r3-fashion-vanilla-latent_dim-4"
    with pytest.raises(ConfigError, match="latent_dim"):
        sweep_configs(base_config, [parse_vary("model.latent_dim=0,4")])


def _mtimes(run: Path) -> float:
    return (run / "checkpoints" / "last.safetensors").stat().st_mtime_ns


def test_interrupted_sweep_finishes_only_missing_runs(base_config, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    varies = [parse_vary("model.latent_dim=2,4,8")]
    lines: list[str] = []
    first = run_sweep(base_config, varies, out, quiet=True, log=lines.append)
    assert set(first.outcome.states.values()) == {RunState.TRAIN}
    names = ["latent_dim-2", "latent_dim-4", "latent_dim-8"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == names
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["vary"] == {"model.latent_dim": ["2", "4", "8"]}
    assert (out / "sweep_latent_dim.png").exists() and (out / "comparison.html").exists()
    csv_rows = (out / "comparison.csv").read_text().splitlines()
    assert len(csv_rows) == 4

    # "Interrupt": one run lost entirely, one trained but never evaluated, one untouched.
    import shutil

    shutil.rmtree(out / "latent_dim-4")
    data = read_metrics(out / "latent_dim-8")
    data.pop("reconstruction")
    (out / "latent_dim-8" / "metrics.json").write_text(json.dumps(data))
    before = {n: _mtimes(out / n) for n in ("latent_dim-2", "latent_dim-8")}

    lines.clear()
    second = run_sweep(base_config, varies, out, quiet=True, log=lines.append)
    assert second.outcome.states == {
        "latent_dim-2": RunState.DONE,
        "latent_dim-4": RunState.TRAIN,
        "latent_dim-8": RunState.EVALUATE,
    }
    assert second.by_label("model.latent_dim") == {n.split("-")[1]: out / n for n in names}
    assert "skip latent_dim-2: finished and evaluated" in lines
    assert any(line.startswith("train latent_dim-4") for line in lines)
    assert not any(line.startswith("train latent_dim-2") for line in lines)
    # Only the missing run trained: the others' checkpoints were not rewritten.
    assert {n: _mtimes(out / n) for n in before} == before
    assert "reconstruction" in read_metrics(out / "latent_dim-8")
    assert len((out / "comparison.csv").read_text().splitlines()) == 4

    # A third run has nothing to do.
    third = run_sweep(base_config, varies, out, quiet=True, log=lambda m: None)
    assert set(third.outcome.states.values()) == {RunState.DONE}
