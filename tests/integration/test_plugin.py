"""A model family shipped as its own package: ``examples/plugin-package`` (aelab-resmlp) is
pip-installed into a temporary directory, and the unchanged CLI lists its preset, trains,
evaluates and compares its runs, sweeps it; without the plugin, loading its run fails
with one line naming the family and the distribution to install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aelab.rundir import read_metrics
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin-package"
SETS = [
    "--set", "model.width=16",
    "--set", "model.blocks=1",
    "--set", "model.latent_dim=4",
    "--set", "data.val_size=16",
    "--set", "train.threads=1",
]  # fmt: skip
TINY = ["--epochs", "1", "--batch-size", "32", *SETS, "--quiet"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plugin installed with pip into a fresh directory (nothing touches the venv).

    The source is copied first so the build leaves no build/ or egg-info in the repo."""
    tmp = tmp_path_factory.mktemp("plugin")
    shutil.copytree(PLUGIN, tmp / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-compile", "--target", str(target), str(tmp / "src")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("idx")
    write_idx_dataset(path, n_train=96, n_test=32, shape=(8, 8), classes=4)
    return path


def aelab(*args: str, cwd: Path, plugin: Path | None) -> subprocess.CompletedProcess:
    """``python -m aelab ARGS`` in a fresh process, with the plugin importable or not."""
    paths = [str(ROOT / "src"), *([str(plugin)] if plugin else [])]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(paths), "XDG_CACHE_HOME": str(cwd / "xdg")}
    env.pop("AELAB_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "aelab", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_cli_trains_evaluates_and_compares_a_plugin_family(site, idx_dir, tmp_path):
    listing = ok(aelab("presets", cwd=tmp_path, plugin=site))
    row = next(line for line in listing.splitlines() if line.startswith("resmlp-fashion"))
    assert row.split()[1:5] == ["fashion-mnist", "resmlp", "1,472,816", "aelab-resmlp"]

    data = ["--dataset", f"idx:{idx_dir}"]
    ok(aelab("train", "--preset", "resmlp-fashion", *data, *TINY, "--out", "a", "--no-eval",
             cwd=tmp_path, plugin=site))  # fmt: skip
    # any preset becomes the plugin's family with --set model.family
    ok(aelab("train", "--preset", "r4-fc", "--set", "model.family=resmlp", *data, *TINY,
             "--out", "b", "--no-eval", cwd=tmp_path, plugin=site))  # fmt: skip
    weights = tmp_path / "a" / "checkpoints" / "last.safetensors"
    assert b'"family_distribution":"aelab-resmlp"' in weights.read_bytes()[:20000]

    ok(aelab("evaluate", "a", "--quiet", cwd=tmp_path, plugin=site))
    metrics = read_metrics(tmp_path / "a")
    assert (metrics["run"]["family"], metrics["run"]["regularizer"]) == ("resmlp", "l1")
    assert 0 < metrics["reconstruction"]["mse"] < 0.25
    assert (tmp_path / "a" / "report.html").exists()

    ok(aelab("evaluate", "b", "--quiet", cwd=tmp_path, plugin=site))
    ok(aelab("compare", "a", "b", "--out", "cmp", "--quiet", cwd=tmp_path, plugin=site))
    table = (tmp_path / "cmp" / "comparison.csv").read_text()
    assert table.count("resmlp") >= 2

    ok(aelab("sweep", "--preset", "resmlp-fashion", "--epochs", "1", *SETS,
             "--set", f"data.dataset=idx:{idx_dir}", "--set", "train.batch_size=32",
             "--vary", "model.blocks=0,2", "--out", "sw", "--quiet",
             cwd=tmp_path, plugin=site))  # fmt: skip
    assert len(list((tmp_path / "sw").glob("*/checkpoints/last.safetensors"))) == 2

    # Without the plugin: one line naming the family and the distribution to install.
    missing = aelab("evaluate", "a", cwd=tmp_path, plugin=None)
    assert missing.returncode == 2
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and "model family 'resmlp'" in lines[0]
    assert "pip install aelab-resmlp" in lines[0]
    code = f"import aelab; aelab.load({str(tmp_path / 'a')!r})"
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "CheckpointError" in loaded.stderr and "aelab-resmlp" in loaded.stderr.splitlines()[-1]
    json.loads((tmp_path / "a" / "metrics.json").read_text())  # the failure wrote nothing
