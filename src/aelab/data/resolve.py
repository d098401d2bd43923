"""Where a named dataset is found on disk, in a documented order.

RESOLUTION_ORDER, first match wins:

1. ``data_dir``: ``DataConfig.data_dir`` / ``--data-dir``, the folder holding the
   dataset's files (a folder with a ``<name>/`` sub-folder is accepted too);
2. ``$AELAB_DATA_DIR``: a folder with one sub-folder per dataset (``<name>/``) (the
   files themselves are accepted for the dataset they are);
3. the user cache: ``$XDG_CACHE_HOME/aelab/<name>/``, else ``~/.cache/aelab/<name>/``;
4. system copies: ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist``);
5. a download from the canonical mirrors (``download.py``) into the first of
   ``data_dir``, ``$AELAB_DATA_DIR/<name>/`` or the user cache.

A place counts only when it holds every file the requested split needs, and not another
known dataset's files under the same names (MNIST and Fashion-MNIST share them: the label
files' checksums tell); places holding some of them, or another dataset's, are reported in
the error, which lists every place looked in and how to get the data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from aelab.data import cifar, idx
from aelab.data.sources import Source, get_source, identify
from aelab.errors import DataError

ENV_VAR = "AELAB_DATA_DIR"
RESOLUTION_ORDER = (
    "data_dir (DataConfig.data_dir / --data-dir)",
    f"${ENV_VAR}",
    "user cache ($XDG_CACHE_HOME/aelab or ~/.cache/aelab)",
    "system copies (/usr/share/datasets/<name>/)",
    "download from the canonical mirrors",
)
SPLITS = ("train", "test")


def cache_root() -> Path:
    """The user cache of aelab: ``$XDG_CACHE_HOME/aelab`` (when set and absolute) or
    ``~/.cache/aelab``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "aelab"


@dataclass(frozen=True)
class Place:
    """One place looked in. ``kind``: ``data_dir``, ``env``, ``cache`` or ``system``."""

    kind: str
    path: Path

    def describe(self) -> str:
        if self.path == Path(f"${ENV_VAR}"):
            return str(self.path)
        label = {
            "data_dir": "--data-dir",
            "env": f"${ENV_VAR}",
            "cache": "user cache",
            "system": "system copy",
        }
        return f"{label[self.kind]} {self.path}"


@dataclass(frozen=True)
class Located:
    """Where a split's files were found: role -> path (``cifar`` maps to the batch folder
    or the archive)."""

    source: Source
    place: Place
    files: dict[str, Path]


@dataclass
class Search:
    """The outcome of looking for a dataset: what was found, and every place looked in."""

    source: Source
    splits: tuple[str, ...]
    found: Located | None = None
    looked: list[tuple[Place, str]] = field(default_factory=list)


def places(source: Source, data_dir: str | Path | None = None) -> list[Place]:
    """Every place to look in, in resolution order (without the download)."""
    out: list[Place] = []
    if data_dir:
        root = Path(data_dir).expanduser()
        out += [Place("data_dir", root), Place("data_dir", root / source.name)]
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        out += [Place("env", root / source.name), Place("env", root)]
    out.append(Place("cache", cache_root() / source.name))
    out += [Place("system", Path(d)) for d in source.system_dirs]
    return out


def download_dir(source: Source, data_dir: str | Path | None = None) -> Path:
    """Where a download of ``source`` goes: ``data_dir``, ``$AELAB_DATA_DIR/<name>`` or the
    user cache."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser() / source.name
    return cache_root() / source.name


def required_files(source: Source, splits: tuple[str, ...]) -> list[str]:
    """File names a place must hold for ``splits`` (for CIFAR: the archive)."""
    return [source.file(role).filename for role in roles(source, splits)]


def _find_in(
    source: Source, directory: Path, splits: tuple[str, ...]
) -> tuple[dict[str, Path], list[str]]:
    """Files of ``splits`` present in ``directory`` (role -> path) and the names missing."""
    if source.format == "cifar":
        batches = cifar.batch_dir(directory)
        if batches is not None:
            return {"cifar": batches}, []
        archive = directory / source.file("archive").filename
        if archive.is_file():
            return {"cifar": archive}, []
        return {}, [f"{archive.name} or {cifar.BATCH_DIR}/*.bin"]
    present: dict[str, Path] = {}
    missing: list[str] = []
    for split in splits:
        for kind in ("images", "labels"):
            data_file = source.file(f"{split}_{kind}")
            # The gzip as published, or the same file already decompressed.
            candidates = [
                directory / data_file.filename,
                directory / data_file.filename.removesuffix(".gz"),
            ]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                missing.append(data_file.filename)
            else:
                present[data_file.role] = path
    return present, missing


def search(
    name: str | Source, data_dir: str | Path | None = None, splits: tuple[str, ...] = SPLITS
) -> Search:
    """Look for the files of ``splits`` in every place, in resolution order."""
    source = name if isinstance(name, Source) else get_source(name)
    result = Search(source, splits)
    for place in places(source, data_dir):
        if place.kind == "cache" and not os.environ.get(ENV_VAR):
            result.looked.append((Place("env", Path(f"${ENV_VAR}")), "not set"))
        if not place.path.is_dir():
            result.looked.append((place, "does not exist"))
            continue
        present, missing = _find_in(source, place.path, splits)
        if not missing:
            other = foreign_dataset(source, present)
            if other is not None:
                result.looked.append((place, holds_other(source, place, other)))
                continue
            result.found = Located(source, place, present)
            result.looked.append((place, "found"))
            return result
        if not present:  # files of the other split tell the user the place was right
            present, _ = _find_in(source, place.path, SPLITS)
        if present:
            have = ", ".join(p.name for p in present.values())
            result.looked.append((place, f"has {have} but lacks {', '.join(missing)}"))
        else:
            result.looked.append((place, "no dataset files"))
    return result


def foreign_dataset(source: Source, present: dict[str, Path]) -> str | None:
    """The name of the known dataset whose files these are when they are not ``source``'s
    (MNIST and Fashion-MNIST share file names), else None. The label files tell: their
    checksums are cheap (60 kB); content no dataset knows is left to the full check."""
    for role, path in present.items():
        expected = source.file(role).sha256 if role.endswith("_labels") else None
        if expected is None:
            continue
        try:
            digest = hashlib.sha256(idx.decompress(path.read_bytes(), source=path)).hexdigest()
        except (DataError, OSError):
            return None  # damaged: loading it says what is wrong
        if digest == expected:
            return None
        known = identify(digest)
        if known is not None and known[0].name != source.name:
            return known[0].name
    return None


def holds_other(source: Source, place: Place, other: str) -> str:
    """Why ``place`` does not count although it holds files with ``source``'s names."""
    # "has ...": listed by `aelab data list` beside the places holding part of a dataset
    text = f"has {other}'s files (identified by their checksums), not {source.name}'s"
    if place.path.name == source.name:
        return f"{text}; move them to {place.path.parent / other} and put {source.name}'s there"
    if place.kind == "env":
        return (
            f"{text}; ${ENV_VAR} must point at a folder holding one <name>/ folder per "
            f"dataset ({other}/, {source.name}/), not at the files"
        )
    return f"{text}; use it for {other}, or give {source.name}'s folder"


def locate(
    name: str | Source, data_dir: str | Path | None = None, splits: tuple[str, ...] = SPLITS
) -> Located | None:
    """The first place holding every file of ``splits``, or None."""
    return search(name, data_dir, splits).found


def not_found_error(result: Search, download: str) -> DataError:
    """The error when every place failed: each place looked in, and how to get the data.

    ``download``: what happened at step 5 (``not attempted (download=False)``, or why it failed).
    """
    source = result.source
    looked = "; ".join(
        f"{i}. {place.describe()}: {why}" for i, (place, why) in enumerate(result.looked, 1)
    )
    how = []
    if source.apt_package:
        how.append(f"`apt-get install {source.apt_package}` (installs {source.system_dirs[0]})")
    how.append(f"`aelab data fetch {source.name}`")
    files = required_files(source, result.splits)
    urls = ", ".join(source.urls(source.file(r))[0] for r in roles(source, result.splits))
    how.append(f"download {urls} into a folder and pass --data-dir FOLDER (or set ${ENV_VAR})")
    splits = " and ".join(result.splits)
    return DataError(
        f"{source.name}: the {splits} files ({', '.join(files)}) were not found. Looked in: {looked}; "
        f"download: {download}. To get the data: {'; or '.join(how)}."
    )


def roles(source: Source, splits: tuple[str, ...]) -> list[str]:
    """The file roles ``splits`` need (for CIFAR: the archive holds both splits)."""
    if source.format == "cifar":
        return ["archive"]
    return [f"{s}_{kind}" for s in splits for kind in ("images", "labels")]
