"""``aelab sweep``, ``aelab compare`` and ``aelab family-study`` end to end on tiny data."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aelab.cli.main import main
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration

SETS = ["data.val_size=16", "train.batch_size=32", "train.threads=1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("idx")
    write_idx_dataset(directory, n_train=96, n_test=24)
    return directory


def _sets(data_dir: Path) -> list[str]:
    out = []
    for s in [f"data.dataset=idx:{data_dir}", *SETS]:
        out += ["--set", s]
    return out


def test_sweep_with_jobs_then_compare(data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "aelab", "sweep", "--preset", "r3-fashion-vanilla"]
    cmd += ["--vary", "model.latent_dim=2,4", "--epochs", "1", "--jobs", "2", "--out", str(out)]
    proc = subprocess.run([*cmd, *_sets(data_dir)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "train latent_dim-2 (subprocess)" in proc.stdout
    # Each subprocess's output is kept in its run directory; one progress line per run.
    train_log = (out / "latent_dim-4" / "train.log").read_text(encoding="utf-8")
    assert "-m aelab.studies.worker --config" in train_log
    assert "[2/2] latent_dim-" in proc.stdout
    with open(out / "comparison.csv", encoding="utf-8") as f:
        assert [r["latent_dim"] for r in csv.DictReader(f)] == ["2", "4"]
    # Re-running skips both.
    proc = subprocess.run([*cmd, *_sets(data_dir)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.count("skip latent_dim-") == 2

    cmp_dir = tmp_path / "cmp"
    assert (
        main(
            ["compare", str(out / "latent_dim-4"), str(out / "latent_dim-2"), "--out", str(cmp_dir)]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "| latent_dim-4 |" in printed.out and "comparison.html" in printed.err
    args = ["compare", str(out / "latent_dim-2"), "--out", str(tmp_path / "one"), "--json"]
    assert main([*args, "--quiet"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["name"] for r in runs] == ["latent_dim-2"]
    for name in ("comparison.csv", "comparison.md", "comparison.html", "comparison_grid.png"):
        assert (cmp_dir / name).exists(), name


def test_family_study_subset(data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "study"
    args = ["family-study", "--only", "conv", "--only", "vae", "--latent-dim", "8", "--epochs", "1"]
    assert main([*args, *_sets(data_dir), "--out", str(out), "--quiet"]) == 0
    with open(out / "comparison.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["name"], r["family"], r["latent_dim"]) for r in rows] == [
        ("conv", "conv", "8"),
        ("vae", "vae", "8"),
    ]
    assert (out / "comparison_grid.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "no/such/run", "--out", "x"], "does not exist"),
        (
            ["sweep", "--preset", "r3-fashion-vanilla", "--vary", "latent_dim=2", "--out", "x"],
            "--vary",
        ),
        (
            ["sweep", "--preset", "r3-fashion-vanilla", "--vary", "model.nope=2", "--out", "x"],
            "nope",
        ),
        (["family-study", "--only", "cnn", "--out", "x"], "unknown study member"),
        (
            ["sweep", "--config", "c.toml", "--vary", "a=1", "--cpus-per-run", "2", "--out", "x"],
            "--cpus-per-run needs --executor ray",
        ),
        (
            ["family-study", "--executor", "ray", "--jobs", "2", "--out", "x"],
            "--jobs is for --executor local",
        ),
        (
            ["family-study", "--executor", "ray", "--gpus-per-run", "-1", "--out", "x"],
            "--gpus-per-run -1 is invalid: expected a number >= 0",
        ),
    ],
)
def test_user_mistakes_are_one_line_exit_2(
    argv, message, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
