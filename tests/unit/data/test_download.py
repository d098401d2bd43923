from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from aelab.config import DataConfig
from aelab.data import fetch, load_dataset, sources
from aelab.data.download import download_file, safe_extract
from aelab.data.sources import DataFile
from aelab.errors import DataError
from fakedata import serve_directory, write_cifar_binary


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_fetch_from_loopback_then_cache_is_used(
    tiny_source, mirror: Path, isolated_env: Path
) -> None:
    with serve_directory(mirror) as server:
        target = fetch("tiny", base_url=server.url, progress=False)
        assert target == isolated_env / "tiny"
        assert sorted(p.name for p in target.iterdir()) == sorted(
            f.filename for f in tiny_source.files
        )
        assert len(server.requests) == 4
        fetch("tiny", base_url=server.url, progress=False)
        assert len(server.requests) == 4  # already present: nothing downloaded again


def test_load_dataset_downloads_from_mirror_once(tiny_source, mirror: Path, monkeypatch) -> None:
    with serve_directory(mirror) as server:
        monkeypatch.setitem(
            sources.SOURCES,
            "tiny",
            sources.Source(**{**tiny_source.__dict__, "mirrors": (server.url,)}),
        )
        data = load_dataset(DataConfig(dataset="tiny", val_size=10), progress=False)
        assert (len(data.train), len(data.val), len(data.test)) == (50, 10, 20)
        load_dataset(DataConfig(dataset="tiny", val_size=10), progress=False)
        assert len(server.requests) == 4


def test_checksum_mismatch_leaves_nothing(mirror: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "f.gz"
    with (
        serve_directory(mirror) as server,
        pytest.raises(DataError, match=r"checksum mismatch .*expected MD5 0{32}"),
    ):
        download_file(server.url + "train-labels-idx1-ubyte.gz", dest, md5="0" * 32, progress=False)
    assert _leftovers(dest.parent) == []


def test_interrupted_download_leaves_nothing(mirror: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "f.gz"
    with (
        serve_directory(mirror, break_after=100) as server,
        pytest.raises(DataError, match="broke off after 100 of"),
    ):
        download_file(server.url + "train-images-idx3-ubyte.gz", dest, progress=False)
    assert _leftovers(dest.parent) == []


def test_missing_file_on_mirror(tiny_source, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with (
        serve_directory(empty) as server,
        pytest.raises(DataError, match=r"could not download .*404"),
    ):
        fetch("tiny", base_url=server.url, progress=False, data_dir=tmp_path / "d")
    assert _leftovers(tmp_path / "d") == []


def test_real_checksums_reject_fake_files(mirror: Path, tmp_path: Path) -> None:
    """The registry's canonical MD5s: a fake file served as fashion-mnist is refused."""
    with serve_directory(mirror) as server, pytest.raises(DataError, match="checksum mismatch"):
        fetch("fashion-mnist", base_url=server.url, data_dir=tmp_path / "fm", progress=False)
    assert _leftovers(tmp_path / "fm") == []


def test_cifar_fetch_extracts_batches(tmp_path: Path, monkeypatch) -> None:
    import hashlib

    archive = write_cifar_binary(tmp_path / "mirror", n_train=10, n_test=5)["archive"]
    real = sources.get_source("cifar10")
    fake_file = DataFile(
        "archive", real.files[0].filename, hashlib.md5(archive.read_bytes()).hexdigest()
    )
    monkeypatch.setitem(
        sources.SOURCES, "cifar10", sources.Source(**{**real.__dict__, "files": (fake_file,)})
    )
    with serve_directory(archive.parent) as server:
        target = fetch("cifar10", base_url=server.url, data_dir=tmp_path / "c", progress=False)
    assert (target / "cifar-10-batches-bin" / "test_batch.bin").is_file()
    data = load_dataset(
        DataConfig(dataset="cifar10", data_dir=str(target), validation="none"), download=False
    )
    assert (len(data.train), len(data.test)) == (10, 5)


def _tar_with(path: Path, member: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("ok/a.txt")
        ok.size = 1
        tar.addfile(ok, io.BytesIO(b"x"))
        tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/escape.txt", "ok/../../escape.txt"])
def test_tar_path_traversal_refused(tmp_path: Path, name: str) -> None:
    member = tarfile.TarInfo(name)
    member.size = 4
    archive = _tar_with(tmp_path / "a.tar.gz", member)
    with pytest.raises(DataError, match=r"refusing to extract member .*leaves the target folder"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert _leftovers(tmp_path / "out") == []


def test_tar_links_refused(tmp_path: Path) -> None:
    member = tarfile.TarInfo("ok/link")
    member.type = tarfile.SYMTYPE
    member.linkname = "/etc/passwd"
    archive = _tar_with(tmp_path / "a.tar.gz", member)
    with pytest.raises(DataError, match="is a link or special file"):
        safe_extract(archive, tmp_path / "out")
    assert _leftovers(tmp_path / "out") == []
