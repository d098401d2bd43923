"""Files of one known dataset where another is looked for (MNIST and Fashion-MNIST share
file names) are identified by their checksums and named; they are never "found" for the
other dataset and never called corrupt or to be deleted. $AELAB_DATA_DIR pointing at the
files themselves, not at a folder of <name>/ folders, is said so."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from aelab.cli.main import main
from aelab.data import sources
from aelab.data.config import DataConfig
from aelab.data.load import load_dataset
from aelab.data.resolve import search
from aelab.data.sources import DataFile, Source
from aelab.errors import DataError
from fakedata import write_idx_dataset


@pytest.fixture
def other_source(tmp_path: Path, tiny_source: Source, monkeypatch) -> Source:
    """``tiny-other``: a second registered IDX dataset (other content, the same names)."""
    folder = tmp_path / "other-mirror"
    write_idx_dataset(folder, n_train=60, n_test=20, classes=10, seed=7)
    files = tuple(
        dataclasses.replace(
            f,
            md5=hashlib.md5((folder / f.filename).read_bytes()).hexdigest(),
            sha256=hashlib.sha256(gzip.decompress((folder / f.filename).read_bytes())).hexdigest(),
        )
        for f in tiny_source.files
    )
    other = dataclasses.replace(
        tiny_source, name="tiny-other", files=files, system_dirs=(), apt_package=None
    )
    monkeypatch.setitem(sources.SOURCES, "tiny-other", other)
    return other


def test_another_datasets_files_in_a_named_folder_are_identified(
    tiny_source, other_source, mirror: Path, tmp_path: Path
):
    wrong = tmp_path / "data" / "tiny-other"
    shutil.copytree(mirror, wrong)  # tiny's files where tiny-other is looked for
    result = search("tiny-other", tmp_path / "data")
    assert result.found is None
    why = dict((p.path, w) for p, w in result.looked)[wrong]
    assert why.startswith("has tiny's files (identified by their checksums), not tiny-other's")
    assert f"move them to {tmp_path / 'data' / 'tiny'}" in why
    assert search("tiny", wrong).found is not None  # they are still tiny's, found as tiny


def test_data_dir_env_pointing_at_the_files_says_what_it_must_hold(
    tiny_source, other_source, mirror: Path, monkeypatch, capsys
):
    monkeypatch.setenv("AELAB_DATA_DIR", str(mirror))  # the files, not a folder of <name>/
    assert search("tiny").found is not None
    assert search("tiny-other").found is None
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="tiny-other"), download=False)
    text = str(info.value)
    assert "has tiny's files" in text and "$AELAB_DATA_DIR must point at a folder holding" in text
    assert "elete" not in text and "\n" not in text
    assert main(["data", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("tiny-other "))
    assert "found:" not in line and "has tiny's files" in line


def test_a_genuine_file_of_another_dataset_is_never_advised_deleted(
    tiny_source, other_source, mirror: Path, tmp_path: Path
):
    mixed = tmp_path / "mixed"
    shutil.copytree(mirror, mixed)  # tiny's labels, tiny-other's training images
    other_images = tmp_path / "other-mirror" / "train-images-idx3-ubyte.gz"
    shutil.copy(other_images, mixed / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="tiny", data_dir=str(mixed)), download=False)
    text = str(info.value)
    assert "is tiny-other's train images file (identified by its SHA-256), not tiny's" in text
    assert "Keep it for tiny-other" in text and "elete" not in text


def test_unknown_content_is_still_corrupt(tiny_source, mirror: Path, tmp_path: Path):
    bad = tmp_path / "bad"
    shutil.copytree(mirror, bad)
    write_idx_dataset(tmp_path / "unknown", n_train=60, n_test=20, seed=3)
    shutil.copy(tmp_path / "unknown" / "train-images-idx3-ubyte.gz", bad)
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset(DataConfig(dataset="tiny", data_dir=str(bad)), download=False)


def test_real_names_share_file_names():
    """Why the check exists: MNIST's and Fashion-MNIST's files have the same names."""
    mnist, fashion = sources.get_source("mnist"), sources.get_source("fashion-mnist")
    assert [f.filename for f in mnist.files] == [f.filename for f in fashion.files]
    assert sources.identify(fashion.file("train_labels").sha256) == (
        fashion,
        fashion.file("train_labels"),
    )
    assert sources.identify("0" * 64) is None
    assert isinstance(mnist, Source) and isinstance(mnist.files[0], DataFile)
