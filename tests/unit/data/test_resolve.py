from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aelab.config import DataConfig
from aelab.data import RESOLUTION_ORDER, load_dataset, load_split, locate
from aelab.data.resolve import cache_root
from aelab.errors import DataError


def test_cache_root_is_xdg_aware(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "aelab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "aelab"


def test_resolution_order(
    tiny_source, mirror: Path, tmp_path: Path, monkeypatch, isolated_env: Path
) -> None:
    assert len(RESOLUTION_ORDER) == 5 and RESOLUTION_ORDER[-1].startswith("download")
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    places = {
        "data_dir": explicit,
        "env": env / "tiny",
        "cache": isolated_env / "tiny",
        "system": Path(tiny_source.system_dirs[0]),
    }
    for folder in places.values():
        shutil.copytree(mirror, folder)
    monkeypatch.setenv("AELAB_DATA_DIR", str(env))
    for kind, folder in places.items():
        found = locate("tiny", explicit)
        assert (found.place.kind, found.place.path) == (kind, folder)
        shutil.rmtree(folder)
    assert locate("tiny", explicit) is None


def test_data_dir_may_hold_a_named_subfolder(tiny_source, mirror: Path, tmp_path: Path) -> None:
    shutil.copytree(mirror, tmp_path / "root" / "tiny")
    assert locate("tiny", tmp_path / "root").place.path == tmp_path / "root" / "tiny"


def test_offline_error_lists_every_place(tiny_source, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AELAB_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="tiny", data_dir=str(tmp_path / "mine")), download=False)
    message = str(info.value)
    for expected in (
        f"--data-dir {tmp_path / 'mine'}",
        f"$AELAB_DATA_DIR {tmp_path / 'env' / 'tiny'}",
        "user cache",
        f"system copy {tiny_source.system_dirs[0]}",
        "download: not attempted",
        "apt-get install dataset-tiny",
        "--data-dir FOLDER",
        "http://127.0.0.1:9/unreachable/train-images-idx3-ubyte.gz",
    ):
        assert expected in message
    assert "\n" not in message


def test_failed_download_is_reported(tiny_source, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"download: failed \(tiny: could not download"):
        load_dataset(DataConfig(dataset="tiny", data_dir=str(tmp_path / "d")), progress=False)


def test_partial_data_names_missing_train_files(tiny_source, mirror: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mirror / name, partial / name)
    cfg = DataConfig(dataset="tiny", data_dir=str(partial))
    assert len(load_split(cfg, "test", download=False)) == 20
    with pytest.raises(
        DataError,
        match=r"has t10k-images.* but lacks train-images-idx3-ubyte\.gz, train-labels-idx1-ubyte\.gz",
    ):
        load_dataset(cfg, download=False)


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(DataError, match="Did you mean 'fashion-mnist'"):
        load_dataset(DataConfig(dataset="fashion-mnst"))
