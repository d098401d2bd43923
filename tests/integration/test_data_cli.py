"""``aelab data`` end to end, and the real datasets when installed."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from aelab.cli.main import main
from aelab.config import DataConfig
from aelab.data import load_dataset, load_split, sources
from fakedata import serve_directory, write_idx_dataset

pytestmark = pytest.mark.integration

FASHION = Path("/usr/share/datasets/fashion-mnist")
MNIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)


def test_list(capsys) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "cifar10"):
        assert name in out


def test_info_on_idx_folder(tmp_path: Path, capsys) -> None:
    write_idx_dataset(tmp_path, n_train=40, n_test=10, classes=4)
    assert (
        main(["data", "info", f"idx:{tmp_path}", "--validation", "split", "--val-size", "8"]) == 0
    )
    out = capsys.readouterr().out
    assert "shape 1x28x28, 4 classes" in out
    assert "train      32 images" in out and "val         8 images" in out
    assert "class counts: 0 " in out


def test_fetch_from_loopback_mirror(tmp_path: Path, monkeypatch, capsys) -> None:
    mirror = tmp_path / "mirror"
    write_idx_dataset(mirror, n_train=20, n_test=10)
    real = sources.get_source("mnist")
    files = tuple(
        sources.DataFile(
            f.role, f.filename, hashlib.md5((mirror / f.filename).read_bytes()).hexdigest()
        )
        for f in real.files
    )
    monkeypatch.setitem(
        sources.SOURCES,
        "mnist",
        sources.Source(**{**real.__dict__, "files": files, "system_dirs": ()}),
    )
    with serve_directory(mirror) as server:
        assert main(["data", "fetch", "mnist", "--mirror", server.url]) == 0
        printed = capsys.readouterr()
        assert "downloaded and verified" in printed.err and printed.out == ""  # status: stderr
        assert main(["data", "fetch", "mnist", "--mirror", server.url, "--quiet"]) == 0
        assert capsys.readouterr() == ("", "")  # --quiet: nothing but errors
        assert main(["data", "fetch", "mnist", "--mirror", server.url]) == 0
        assert "already present (user cache" in capsys.readouterr().err
        assert len(server.requests) == 4


def test_errors_are_one_line_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["data", "info", "mnist", "--data-dir", str(tmp_path), "--no-download"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aelab data: error: mnist: the train") and err.count("\n") == 1
    assert main(["data", "fetch", "cifar100"]) == 2
    assert "unknown dataset 'cifar100'" in capsys.readouterr().err


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist() -> None:
    data = load_dataset(DataConfig(dataset="fashion-mnist", validation="none"), download=False)
    assert data.train.images.shape == (60000, 1, 28, 28) and data.test.images.shape == (
        10000,
        1,
        28,
        28,
    )
    assert data.train.images.dtype == np.uint8 and data.train.labels.dtype == np.int64
    assert round(float(data.train.images.mean()) / 255, 4) == 0.2860
    assert np.bincount(data.train.labels).tolist() == [6000] * 10
    assert np.bincount(data.test.labels).tolist() == [1000] * 10
    digest = hashlib.sha256(
        gzip.decompress((FASHION / "train-images-idx3-ubyte.gz").read_bytes())
    ).hexdigest()
    assert digest == sources.get_source("fashion-mnist").file("train_images").sha256
    split = load_dataset(DataConfig(dataset="fashion-mnist"), download=False)
    assert (len(split.train), len(split.val)) == (50000, 10000)


@pytest.mark.skipif(not MNIST.is_dir(), reason="the shared MNIST test files are absent")
def test_real_mnist_test_split() -> None:
    test = load_split(DataConfig(dataset="mnist", data_dir=str(MNIST)), "test", download=False)
    assert test.images.shape == (10000, 1, 28, 28)
    assert round(float(test.images.mean()) / 255, 4) == 0.1325
    assert int((test.labels == 0).sum()) == 980


def test_list_and_info_as_json(tmp_path: Path, capsys) -> None:
    write_idx_dataset(tmp_path, n_train=40, n_test=10, classes=4)
    assert main(["data", "list", "--json", "--data-dir", str(tmp_path)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mnist"]["shape"] == [1, 28, 28] and rows["cifar10"]["test"] == 10_000
    args = ["data", "info", f"idx:{tmp_path}", "--validation", "split", "--val-size", "8"]
    assert main([*args, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [1, 28, 28] and info["classes"] == ["0", "1", "2", "3"]
    assert {k: v["images"] for k, v in info["splits"].items()} == {
        "train": 32,
        "val": 8,
        "test": 10,
    }
    assert sum(info["splits"]["test"]["class_counts"].values()) == 10
    assert 0 < info["splits"]["train"]["pixel_mean"] < 1
