"""``load_dataset``: a dataset spec in a DataConfig -> DatasetSplits (uint8 in memory).

Named datasets (``mnist``, ``fashion-mnist``, ``cifar10``) are found by ``resolve.py``
or downloaded; files on disk are validated on every read (structure, and the SHA-256
of the decompressed content where the canonical value is known). Local specs:
``folder:PATH``, ``idx:PATH`` (your own IDX files under the standard names, no
checksum), ``npy:PATH``, ``npz:PATH``.

Then the validation split (``DataConfig.validation``): ``split`` holds out ``val_size``
training images chosen by the seed, before ``train_limit`` / ``val_limit`` / ``test_limit``
keep the first images of train / val / test, so a quick run validates on (the first of) the
same images as a full one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from aelab.data import arrays, cifar, idx, prepared
from aelab.data.config import DataConfig
from aelab.data.download import fetch
from aelab.data.folder import read_folder
from aelab.data.resolve import Located, not_found_error, search
from aelab.data.sources import SOURCES, Source, get_source, identify
from aelab.data.splits import DatasetSplits, Split, check_not_empty, split_indices
from aelab.errors import DataError

LOCAL_KINDS = ("folder", "idx", "npy", "npz")
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def parse_spec(dataset: str) -> tuple[str, str]:
    """``("named", name)`` or ``(kind, path)`` for ``kind:path`` specs."""
    kind, sep, rest = dataset.partition(":")
    if sep and kind == "python":
        raise DataError(
            f"dataset {dataset!r} was passed from Python and is not on disk; pass the same data "
            "again (e.g. evaluate_run(run_dir, data=aelab.data.as_splits(x, seed=SEED)))."
        )
    if sep and kind in LOCAL_KINDS:
        if not rest:
            raise DataError(f"dataset {dataset!r} has no path: expected {kind}:PATH.")
        return kind, rest
    if dataset not in SOURCES:
        get_source(dataset)  # raises with the known names
    return "named", dataset


# --------------------------------------------------------------------------- named datasets


def _checked(path: Path, raw: bytes, data: bytes, data_file, source: Source) -> bool:
    """Check the content against the known checksum; True when it is the canonical file."""
    if data_file.sha256 is not None:
        found = hashlib.sha256(data).hexdigest()
        known = identify(found) if found != data_file.sha256 else None
        if known is not None:  # another dataset's genuine file: never advise deleting it
            other, other_file = known
            raise DataError(
                f"{path} is {other.name}'s {other_file.role.replace('_', ' ')} file "
                f"(identified by its SHA-256), not {source.name}'s. Keep it for {other.name}; "
                f"put {source.name}'s files in a folder of their own (aelab data fetch "
                f"{source.name}, or --data-dir FOLDER); $AELAB_DATA_DIR holds one <name>/ "
                "folder per dataset."
            )
        if found != data_file.sha256:
            raise DataError(
                f"{path}: content checksum mismatch (expected SHA-256 {data_file.sha256} of the "
                f"decompressed data, found {found}); the file is corrupt or not the canonical "
                f"{source.name}. Delete it and run `aelab data fetch {source.name} --force`, or pass "
                f"--data-dir with good copies (your own IDX files load as idx:FOLDER)."
            )
        return True
    return data_file.md5 is not None and hashlib.md5(raw).hexdigest() == data_file.md5


def _read_idx_split(
    source: Source, located: Located, split: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    verified = True
    parsed = []
    for kind in ("images", "labels"):
        data_file = source.file(f"{split}_{kind}")
        path = located.files[data_file.role]
        raw = path.read_bytes()
        data = idx.decompress(raw, source=path)
        verified &= _checked(path, raw, data, data_file, source)
        if kind == "images":
            parsed.append(idx.images_from_bytes(data, source=path))
        else:
            parsed.append(idx.labels_from_bytes(data, source=path, num_classes=len(source.classes)))
    images, labels = parsed
    idx.check_pair(
        images, labels, str(located.files[f"{split}_images"]), str(located.files[f"{split}_labels"])
    )
    return images, labels, verified


def _read_cifar_split(
    source: Source, located: Located, split: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    path = located.files["cifar"]
    if path.is_dir():
        return (*cifar.read_split_from_dir(path, split), False)
    images, labels = cifar.read_split_from_archive(path, split)
    md5 = source.file("archive").md5
    return images, labels, md5 is not None and _md5(path) == md5


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


READERS = {"idx": _read_idx_split, "cifar": _read_cifar_split}


def _source_paths(located: Located, split: str) -> list[Path]:
    if "cifar" not in located.files:
        return [p for role, p in sorted(located.files.items()) if role.startswith(split)]
    path = located.files["cifar"]
    return [path / f for f in cifar.SPLIT_FILES[split]] if path.is_dir() else [path]


def load_split(
    cfg: DataConfig, split: str, *, download: bool = True, progress: bool = True
) -> Split:
    """One split (``train`` or ``test``) of the named dataset ``cfg.dataset``.

    Found in resolution order (see ``resolve.py``), else downloaded when ``download``.
    Parsed arrays of canonical files are cached (``prepared.py``); ``cfg.mmap`` maps them.
    """
    source = get_source(cfg.dataset)
    result = search(source, cfg.data_dir, (split,))
    if result.found is None:
        if not download:
            raise not_found_error(result, "not attempted (download=False / --no-download)")
        try:
            fetch(source, data_dir=cfg.data_dir, progress=progress)
        except DataError as exc:
            raise not_found_error(result, f"failed ({exc})") from None
        result = search(source, cfg.data_dir, (split,))
        if result.found is None:
            raise not_found_error(result, "finished, but the files are still missing")
    located = result.found
    key = prepared.file_key(_source_paths(located, split), source.name, split)
    hit = prepared.load(key, mmap=cfg.mmap)
    if hit is not None:
        return check_not_empty(Split(*hit), source=source.name, name=split)
    images, labels, verified = READERS[source.format](source, located, split)
    if (
        (verified or cfg.mmap)
        and prepared.save(key, images, labels, required=cfg.mmap)
        and cfg.mmap
    ):
        images, labels = prepared.load(key, mmap=True) or (images, labels)
    return check_not_empty(Split(images, labels), source=source.name, name=split)


# --------------------------------------------------------------------------- local datasets


def _read_idx_folder(path: Path) -> tuple[Split, Split, tuple[str, ...] | None]:
    out = []
    for names in IDX_NAMES.values():
        files = []
        for name in names:
            candidates = [path / f"{name}.gz", path / name]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise DataError(f"idx:{path}: {name}.gz (or {name}) not found in {path}.")
            files.append(found)
        images, labels = idx.read_images(files[0]), idx.read_labels(files[1])
        idx.check_pair(images, labels, str(files[0]), str(files[1]))
        out.append(Split(images, labels))
    num_classes = int(max(s.labels.max(initial=0) for s in out)) + 1
    return out[0], out[1], tuple(str(i) for i in range(num_classes))


def _read_local(
    kind: str, path: str, cfg: DataConfig
) -> tuple[Split, Split, tuple[str, ...] | None]:
    p = Path(path).expanduser()
    if cfg.mmap and kind != "npy":
        raise DataError(
            f"data.mmap is supported for the named datasets and npy: folders, not {kind}:; "
            "save the images with np.save and use npy:FOLDER, or turn mmap off."
        )
    if kind == "folder":
        return read_folder(p, image_size=cfg.image_size, mode=cfg.mode)
    if kind == "idx":
        return _read_idx_folder(p)
    train, test = arrays.read_npy(p, mmap=cfg.mmap) if kind == "npy" else arrays.read_npz(p)
    return train, test, None


# --------------------------------------------------------------------------- assembly


def _take(split: Split, index: np.ndarray, tag: str) -> Split:
    """``split[index]``; memory-mapped images stay mapped (the subset goes to the cache)."""
    if isinstance(split.images, np.memmap):
        labels = None if split.labels is None else split.labels[index]
        return Split(prepared.take_mapped(split.images, index, tag), labels)
    return split.take(index)


def load_dataset(
    cfg: DataConfig | str, *, seed: int = 0, download: bool = True, progress: bool = True
) -> DatasetSplits:
    """The dataset ``cfg.dataset`` as uint8 splits (images (N, C, H, W), labels int64).

    ``cfg``: a DataConfig, or a dataset spec (``"fashion-mnist"``, ``"npz:PATH"``, ...),
    which loads train and test as published (``validation="none"``).
    ``val`` per ``cfg.validation``: ``split`` = ``cfg.val_size`` training images held out
    deterministically by ``seed``; ``test`` = the test split; ``none`` = None.
    """
    if isinstance(cfg, str):
        cfg = DataConfig(dataset=cfg, validation="none")
    elif not isinstance(cfg, DataConfig):
        raise DataError(
            f"load_dataset expects a dataset name such as 'fashion-mnist' or a DataConfig, "
            f"found {type(cfg).__name__}; pass load_dataset('fashion-mnist') or "
            "load_dataset(DataConfig(dataset=...))."
        )
    kind, arg = parse_spec(cfg.dataset)
    if kind == "named":
        train, test = (
            load_split(cfg, s, download=download, progress=progress) for s in ("train", "test")
        )
        classes: tuple[str, ...] | None = get_source(arg).classes
        name = arg
    else:
        train, test, classes = _read_local(kind, arg, cfg)
        name = cfg.dataset
    train = check_not_empty(train, source=name, name="train")
    test = check_not_empty(test, source=name, name="test")
    val = None
    if cfg.validation == "split":
        if not 0 < cfg.val_size < len(train):
            raise DataError(
                f"{name}: data.val_size={cfg.val_size} cannot be held out of {len(train):,} training "
                f"images (expected 1 to {len(train) - 1:,}); set data.val_size, or "
                "data.validation='none'."
            )
        rest, held = split_indices(len(train), cfg.val_size, seed)
        train, val = (
            _take(train, rest, f"train-{seed}-{cfg.val_size}"),
            _take(train, held, f"val-{seed}-{cfg.val_size}"),
        )
    if cfg.train_limit:
        train = train.take(slice(0, cfg.train_limit))
    if cfg.test_limit:
        test = test.take(slice(0, cfg.test_limit))
    if cfg.validation == "test":
        val = test
    if cfg.val_limit and val is not None:
        val = val.take(slice(0, cfg.val_limit))
    return DatasetSplits(name=name, train=train, test=test, val=val, classes=classes)
