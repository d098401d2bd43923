"""``aelab data list|fetch|info``: where datasets are, get them, describe them."""

from __future__ import annotations

import argparse
import sys

import numpy as np

HELP = "list, fetch and describe datasets"
EPILOG = """examples:
  aelab data list
  aelab data fetch fashion-mnist
  aelab data fetch mnist --data-dir ~/datasets/mnist --mirror http://localhost:8000/mnist
  aelab data info fashion-mnist
  aelab data info mnist --data-dir ~/datasets/mnist --split test
  aelab data info folder:photos --image-size 64 64 --mode RGB

Named datasets are looked for in: --data-dir, $AELAB_DATA_DIR, the user cache
($XDG_CACHE_HOME/aelab or ~/.cache/aelab), /usr/share/datasets/<name>/, then downloaded.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="known datasets and where each was found")
    p.add_argument("--data-dir", help="a folder to look in first")

    p = sub.add_parser("fetch", help="download a dataset (verified) unless already present")
    p.add_argument("name", help="a dataset name (see `aelab data list`)")
    p.add_argument("--data-dir", help="download into this folder (default: the user cache)")
    p.add_argument(
        "--mirror", metavar="URL", help="base URL to download from instead of the canonical mirrors"
    )
    p.add_argument(
        "--force", action="store_true", help="download again even if the files are present"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("info", help="shapes, split sizes, pixel mean and std, class counts")
    p.add_argument("name", help="a dataset name, or folder:PATH, idx:PATH, npy:PATH, npz:PATH")
    p.add_argument("--data-dir", help="a folder to look in first")
    p.add_argument(
        "--split", choices=("all", "train", "test"), default="all", help="which split(s) to read"
    )
    p.add_argument("--validation", choices=("none", "split", "test"), default="none")
    p.add_argument("--val-size", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--image-size", type=int, nargs=2, metavar=("H", "W"), help="resize folder images"
    )
    p.add_argument("--mode", choices=("L", "RGB"), help="convert folder images to this mode")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "fetch": _fetch, "info": _info}[args.action](args)


def _list(args: argparse.Namespace) -> int:
    from aelab.data.resolve import search
    from aelab.data.sources import dataset_names, get_source

    for name in dataset_names():
        source = get_source(name)
        result = search(source, args.data_dir)
        if result.found is not None:
            where = f"found: {result.found.place.describe()}"
        else:
            partial = [
                f"{p.describe()} {why}" for p, why in result.looked if why.startswith("has ")
            ]
            where = (
                "partial: " + "; ".join(partial)
                if partial
                else f"not found (aelab data fetch {name})"
            )
        c, h, w = source.shape
        print(
            f"{name:<14} {source.format:<6} {c}x{h}x{w}  {source.num_train:>6,}/{source.num_test:,}  {where}"
        )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from aelab.data.download import fetch
    from aelab.data.resolve import locate

    if not args.force:
        found = locate(args.name, args.data_dir)
        if found is not None:
            print(
                f"{args.name}: already present ({found.place.describe()}); --force downloads again"
            )
            return 0
    target = fetch(
        args.name,
        data_dir=args.data_dir,
        base_url=args.mirror,
        progress=not args.quiet and sys.stderr.isatty(),
        force=args.force,
    )
    print(f"{args.name}: downloaded and verified into {target}")
    return 0


def _stats(images: np.ndarray) -> tuple[float, float]:
    """Pixel mean and std in [0, 1], exact, from a histogram (no float copy of the data)."""
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, len(images), 8192):
        counts += np.bincount(np.asarray(images[start : start + 8192]).ravel(), minlength=256)
    values = np.arange(256) / 255.0
    total = counts.sum()
    mean = float((counts * values).sum() / total)
    return mean, float(np.sqrt((counts * (values - mean) ** 2).sum() / total))


def _describe(name: str, split, classes) -> str:
    mean, std = _stats(split.images)
    line = f"{name:<5} {len(split):>7,} images  pixel mean {mean:.4f}  std {std:.4f}"
    if split.labels is None:
        return line + "  (unlabelled)"
    counts = np.bincount(split.labels, minlength=len(classes or ()))
    names = classes or tuple(str(i) for i in range(len(counts)))
    return (
        line
        + "\n      class counts: "
        + ", ".join(f"{n} {c:,}" for n, c in zip(names, counts, strict=False))
    )


def _info(args: argparse.Namespace) -> int:
    from aelab.config import DataConfig
    from aelab.data.load import load_dataset, load_split, parse_spec
    from aelab.data.resolve import locate
    from aelab.data.sources import get_source

    cfg = DataConfig(
        dataset=args.name,
        data_dir=args.data_dir,
        validation=args.validation,
        val_size=args.val_size,
        image_size=tuple(args.image_size) if args.image_size else None,
        mode=args.mode,
    )
    kind, _ = parse_spec(args.name)
    progress = not args.quiet and sys.stderr.isatty()
    download = not args.no_download
    if args.split != "all":
        if kind != "named":
            print(
                f"aelab data info: --split {args.split} needs a named dataset; showing all splits",
                file=sys.stderr,
            )
        else:
            split = load_split(cfg, args.split, download=download, progress=progress)
            found = locate(args.name, args.data_dir, (args.split,))
            print(f"{args.name}: {found.place.describe() if found else 'downloaded'}")
            c, h, w = split.images.shape[1:]
            print(f"shape {c}x{h}x{w}, {len(get_source(args.name).classes)} classes")
            print(_describe(args.split, split, get_source(args.name).classes))
            return 0
    data = load_dataset(cfg, seed=args.seed, download=download, progress=progress)
    where = ""
    if kind == "named":
        found = locate(args.name, args.data_dir)
        where = f": {found.place.describe()}" if found else ""
    print(f"{data.name}{where}")
    c, h, w = data.shape
    print(f"shape {c}x{h}x{w}, {len(data.classes) if data.classes else 'no'} classes")
    for split_name, split in data.by_name().items():
        if split is not None and not (split_name == "val" and args.validation == "test"):
            print(_describe(split_name, split, data.classes))
    return 0
