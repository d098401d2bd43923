"""Run-directory helpers: metrics.json sections, history.csv, names, completeness."""

from __future__ import annotations

import json
import math
import re

import pytest

from aelab.config import RunConfig
from aelab.errors import CheckpointError
from aelab.rundir import (
    LOCK,
    default_run_dir,
    environment,
    is_complete,
    merge_metrics,
    read_history,
    read_metrics,
    write_history,
)


def test_merge_metrics_keeps_other_sections_and_writes_valid_json(tmp_path):
    assert read_metrics(tmp_path) == {}
    merge_metrics(tmp_path, "run", {"epochs": 3, "loss": float("nan")})
    merged = merge_metrics(tmp_path, "reconstruction", {"bce": 0.28, "inf": math.inf})
    assert merged == {
        "run": {"epochs": 3, "loss": None},
        "reconstruction": {"bce": 0.28, "inf": None},
    }
    assert json.loads((tmp_path / "metrics.json").read_text()) == merged
    merge_metrics(tmp_path, "run", {"epochs": 4})
    assert read_metrics(tmp_path)["run"] == {"epochs": 4}
    assert read_metrics(tmp_path)["reconstruction"]["bce"] == 0.28
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "metrics.json"]  # no temp files


def test_corrupt_metrics_is_a_checkpoint_error(tmp_path):
    (tmp_path / "metrics.json").write_text("{oops")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_metrics(tmp_path)
    assert not is_complete(tmp_path)


def test_history_round_trips_bit_for_bit(tmp_path):
    rows = [
        {"epoch": 1, "train_loss": 0.1 + 0.2, "val_loss": 1 / 3, "seconds": 1.5, "lr": 1e-3},
        {
            "epoch": 2,
            "train_loss": 2.0**-40,
            "val_loss": 0.123456789012345678,
            "seconds": 2.0,
            "lr": 1e-3,
        },
    ]
    write_history(tmp_path, rows)
    assert read_history(tmp_path) == rows
    assert read_history(tmp_path / "missing") == []


def test_default_run_dir_names_and_uniqueness(tmp_path):
    cfg = RunConfig.from_dict({"preset": "r1-fashion-sparse"})
    path = default_run_dir(cfg, root=tmp_path)
    assert re.fullmatch(r"r1-fashion-sparse-\d{8}-\d{6}", path.name)
    path.mkdir()
    assert default_run_dir(cfg, root=tmp_path) != path
    assert default_run_dir(RunConfig(), root=tmp_path).name.startswith("dense-")


def test_is_complete(tmp_path):
    assert not is_complete(tmp_path)
    merge_metrics(tmp_path, "run", {"status": "interrupted"})
    assert not is_complete(tmp_path)
    merge_metrics(tmp_path, "run", {"status": "completed"})
    assert is_complete(tmp_path)


def test_environment_describes_versions_and_machine():
    env = environment()
    assert env["aelab_version"] and env["torch_version"] and "CPUs" in env["machine"]
    assert env["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", env["git_commit"])
