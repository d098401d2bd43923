"""The first hour of a new user, end to end on generated IDX data: a preset's TOML saved
with `presets show --toml` trains as is; `train` checks everything before it prints,
and prints the config only with -v; `--resume` on a finished run has nothing to do and
changes nothing; a tune that decides on the test set (R1's validation) says so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aelab.cli.main import main
from aelab.config import RunConfig
from fakedata import write_idx_dataset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("isolated")]

QUICK = [
    "--epochs", "1",
    "--batch-size", "32",
    "--set", "train.threads=1",
    "--set", "data.val_size=16",
    "--figures", "none",
]  # fmt: skip


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("idx")
    write_idx_dataset(path, n_train=96, n_test=24, shape=(8, 8), classes=4)
    return path


def test_presets_show_toml_trains_as_is(idx_dir, tmp_path, capsys):
    assert main(["presets", "show", "r3-fashion-vanilla", "--toml"]) == 0
    saved = tmp_path / "f.toml"
    saved.write_text(capsys.readouterr().out)  # `aelab presets show ... --toml > f.toml`
    assert "Total params" in saved.read_text()  # the summary, as comments
    args = ["train", "--config", str(saved), "--dataset", f"idx:{idx_dir}", *QUICK]
    assert main([*args, "--set", "model.latent_dim=8", "--out", "run", "--no-eval"]) == 0
    assert RunConfig.load(tmp_path / "run" / "config.toml").preset == "r3-fashion-vanilla"


def test_train_checks_before_it_prints_and_prints_the_config_with_v(idx_dir, tmp_path, capsys):
    base = ["train", "--preset", "r3-fashion-vanilla", "--dataset", f"idx:{idx_dir}", *QUICK]
    for bad in (
        [*base, "--set", "train.lr=inf"],  # a config value
        [*base, "--dataset", f"idx:{tmp_path / 'absent'}"],  # data that is not there
    ):
        assert main(bad) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1, (out, err)
    assert main([*base, "--out", "run", "--no-eval"]) == 0
    out = capsys.readouterr().out
    assert "# run directory: run" in out and "[model]" not in out  # no config without -v
    # the same folder again: refused before any data is read or anything printed
    assert main([*base, "--out", "run", "--no-eval"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "already holds a run" in err and len(err.splitlines()) == 1
    assert main(["-v", *base, "--out", "run2", "--no-eval"]) == 0
    out = capsys.readouterr().out
    assert "[model]" in out and "input_shape = [" in out  # the resolved config


def _digests(run: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_resume_of_a_finished_run_has_nothing_to_do(idx_dir, tmp_path, capsys, caplog):
    args = ["train", "--preset", "r3-fashion-vanilla", "--dataset", f"idx:{idx_dir}", *QUICK]
    assert main([*args, "--epochs", "2", "--out", "run"]) == 0
    run = tmp_path / "run"
    before = _digests(run)
    capsys.readouterr()
    for extra in ([], ["--figures", "none"], ["--epochs", "2", "--no-eval"]):
        assert main(["train", "--resume", str(run), *extra]) == 0
        err = capsys.readouterr().err
        assert "nothing to do: " in err and "finished 2 epochs" in err and "--epochs 3" in err
        assert _digests(run) == before  # no evaluation, no config rewritten
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-eval"]) == 0
    assert RunConfig.load(run / "config.toml").train.epochs == 3  # more epochs: trains on


def test_tune_on_val_loss_of_a_run_validating_on_test_warns(idx_dir, tmp_path, capsys):
    pytest.importorskip("optuna")
    args = [
        "tune", "--preset", "r1-fashion-sparse",  # data.validation = "test", as R1's Keras
        "--set", f"data.dataset=idx:{idx_dir}", "--set", "train.threads=1",
        "--epochs", "1", "--trials", "1", "--no-eval", "--no-prune",
        "--search", "model.latent_dim=int:2:8",
    ]  # fmt: skip
    assert main([*args, "--out", "t1"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "test set" in line]
    assert len(warned) == 1 and "objective val_loss" in warned[0]
    assert "data.validation=split" in warned[0]
    # held-out validation: nothing to warn about
    assert main([*args, "--set", "data.validation=split", "--set", "data.val_size=16",
                 "--out", "t2"]) == 0  # fmt: skip
    assert "test set" not in capsys.readouterr().err
