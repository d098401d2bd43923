"""``aelab train`` end to end: a small dense run on generated IDX data (flags, run
directory, resume), user errors (exit 2, one line), and the R1 preset for one epoch on
the real Fashion-MNIST when it is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aelab.cli.main import main
from aelab.config import RunConfig
from aelab.rundir import read_history, read_metrics
from fakedata import write_idx_dataset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("isolated")]

FASHION = Path("/usr/share/datasets/fashion-mnist")
SMALL = [
    "--preset", "r1-fashion-sparse",
    "--epochs", "2",
    "--batch-size", "32",
    "--set", "model.latent_dim=8",
    "--set", "data.validation=split",
    "--set", "data.val_size=32",
    "--set", "train.threads=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("idx")
    write_idx_dataset(path, n_train=160, n_test=40, shape=(8, 8), classes=4)
    return path


def test_train_small_run_then_resume_to_more_epochs(idx_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = [*SMALL, "--dataset", f"idx:{idx_dir}", "--out", str(out), "--no-eval", "--seed", "3"]
    assert main(["train", *args, "-v"]) == 0
    printed = capsys.readouterr().out
    assert "[model]" in printed and "input_shape" in printed  # the resolved config, with -v
    assert "epoch 2/2" in printed  # plain progress lines (not a terminal)
    cfg = RunConfig.load(out / "config.toml")
    assert cfg.model.input_shape == (1, 8, 8) and cfg.train.seed == 3
    assert cfg.train.batch_size == 32 and cfg.model.latent_dim == 8
    assert cfg.preset == "r1-fashion-sparse" and cfg.data.dataset == f"idx:{idx_dir}"
    assert [r["epoch"] for r in read_history(out)] == [1, 2]
    assert read_metrics(out)["run"]["status"] == "completed"
    # the same output again is refused; --resume with more epochs continues the run
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert main(["train", "--resume", str(out), "--epochs", "3", "--quiet", "--no-eval"]) == 0
    assert capsys.readouterr().out == ""
    assert [r["epoch"] for r in read_history(out)] == [1, 2, 3]
    assert main(["train", *args, "--overwrite", "--quiet"]) == 0
    assert [r["epoch"] for r in read_history(out)] == [1, 2]


def test_default_run_dir_is_under_runs(idx_dir, tmp_path):
    assert (
        main(
            [
                "train",
                *SMALL,
                "--dataset",
                f"idx:{idx_dir}",
                "--epochs",
                "1",
                "--quiet",
                "--no-eval",
            ]
        )
        == 0
    )
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("r1-fashion-sparse-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "r1-fashion-sprase"], "Did you mean 'r1-fashion-sparse'?"),
        (["--preset", "r4-fc", "--set", "modle.latent_dim=3"], "Did you mean 'model'?"),
        (["--preset", "r4-fc", "--set", "model.latent_dim=many"], "expected an integer"),
        (["--preset", "r4-fc", "--set", "model.latent_dims=3"], "Did you mean 'latent_dim'?"),
        (["--preset", "r4-fc", "--set", "train.lr=-1"], "learning rate > 0"),
        (["--config", "missing.toml"], "does not exist"),
        ([], "nothing to train"),
        (["--resume", "no-such-run"], "holds no run"),
    ],
)
def test_user_errors_exit_2_with_one_line(args, message, capsys):
    assert main(["train", *args, "--no-eval"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_refuses_a_folder_holding_a_different_run(idx_dir, tmp_path, capsys):
    out = tmp_path / "run"
    base = [
        *SMALL,
        "--dataset",
        f"idx:{idx_dir}",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--quiet",
        "--no-eval",
    ]
    assert main(["train", *base]) == 0
    assert main(["train", *base, "--set", "model.latent_dim=4"]) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)",
)
def test_r1_preset_one_epoch_on_fashion_mnist(tmp_path):
    """The real thing, as a user types it: a subprocess, the R1 preset, one epoch."""
    out = tmp_path / "r1"
    cmd = [sys.executable, "-m", "aelab", "train", "--preset", "r1-fashion-sparse", "--epochs", "1"]
    cmd += ["--out", str(out), "--set", "train.threads=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    run = read_metrics(out)["run"]
    assert run["preset"] == "r1-fashion-sparse" and run["parameters"] == 50_992
    assert run["epochs_completed"] == 1 and run["status"] == "completed"
    (row,) = read_history(out)
    assert 0.25 < row["val_loss"] < 0.40  # Keras reaches ~0.31 after one epoch
    assert (out / "checkpoints/last.safetensors").exists()
    if "reconstruction" in read_metrics(out):  # the evaluation ran (when installed)
        assert (out / "report.html").exists()
