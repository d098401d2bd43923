"""``aelab data list|fetch|info``: where datasets are, get them, describe them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aelab.cli.options import add_json_option, log, print_json

HELP = "list, fetch and describe datasets"
EPILOG = """examples:
  aelab data list
  aelab data list --json
  aelab data fetch fashion-mnist
  aelab data fetch mnist --data-dir ~/datasets/mnist --mirror http://localhost:8000/mnist
  aelab data info fashion-mnist
  aelab data info fashion-mnist --json
  aelab data info mnist --data-dir ~/datasets/mnist --split test
  aelab data info folder:photos --image-size 64 64 --mode RGB

Named datasets are looked for in: --data-dir, $AELAB_DATA_DIR, the user cache
($XDG_CACHE_HOME/aelab or ~/.cache/aelab), /usr/share/datasets/<name>/, then downloaded.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="known datasets and where each was found")
    p.add_argument("--data-dir", help="a folder to look in first")
    add_json_option(p)

    p = sub.add_parser("fetch", help="download a dataset (verified) unless already present")
    p.add_argument("name", help="a dataset name (see `aelab data list`)")
    p.add_argument("--data-dir", help="download into this folder (default: the user cache)")
    p.add_argument(
        "--mirror", metavar="URL", help="base URL to download from instead of the canonical mirrors"
    )
    p.add_argument(
        "--force", action="store_true", help="download again even if the files are present"
    )

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
    add_json_option(p)


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "fetch": _fetch, "info": _info}[args.action](args)


def _list(args: argparse.Namespace) -> int:
    from aelab.data.resolve import search
    from aelab.data.sources import dataset_names, get_source

    rows = []
    for name in dataset_names():
        source = get_source(name)
        result = search(source, args.data_dir)
        found = result.found.place.describe() if result.found is not None else None
        partial = [f"{p.describe()} {why}" for p, why in result.looked if why.startswith("has ")]
        rows.append(
            {
                "name": name,
                "format": source.format,
                "shape": list(source.shape),
                "train": source.num_train,
                "test": source.num_test,
                "found": found,
                "partial": partial,
            }
        )
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        if row["found"] is not None:
            where = f"found: {row['found']}"
        elif row["partial"]:
            where = "partial: " + "; ".join(row["partial"])
        else:
            where = f"not found (aelab data fetch {row['name']})"
        c, h, w = row["shape"]
        print(
            f"{row['name']:<14} {row['format']:<6} {c}x{h}x{w}  "
            f"{row['train']:>6,}/{row['test']:,}  {where}"
        )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from aelab.data.download import fetch
    from aelab.data.resolve import locate

    if not args.force:
        found = locate(args.name, args.data_dir)
        if found is not None:
            log.info(
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
    log.info(f"{args.name}: downloaded and verified into {target}")
    return 0


def _stats(images) -> tuple[float, float]:
    """Pixel mean and std in [0, 1], exact, from a histogram (no float copy of the data)."""
    import numpy as np

    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, len(images), 8192):
        counts += np.bincount(np.asarray(images[start : start + 8192]).ravel(), minlength=256)
    values = np.arange(256) / 255.0
    total = counts.sum()
    mean = float((counts * values).sum() / total)
    return mean, float(np.sqrt((counts * (values - mean) ** 2).sum() / total))


def _split_info(split, classes) -> dict[str, Any]:
    """Size, pixel mean and std, and class counts (None when unlabelled) of one split."""
    import numpy as np

    mean, std = _stats(split.images)
    info: dict[str, Any] = {"images": len(split), "pixel_mean": mean, "pixel_std": std}
    if split.labels is None:
        info["class_counts"] = None
        return info
    counts = np.bincount(split.labels, minlength=len(classes or ()))
    names = classes or tuple(str(i) for i in range(len(counts)))
    info["class_counts"] = {n: int(c) for n, c in zip(names, counts, strict=False)}
    return info


def _describe(name: str, info: dict[str, Any]) -> str:
    line = (
        f"{name:<5} {info['images']:>7,} images  pixel mean {info['pixel_mean']:.4f}  "
        f"std {info['pixel_std']:.4f}"
    )
    if info["class_counts"] is None:
        return line + "  (unlabelled)"
    return (
        line
        + "\n      class counts: "
        + ", ".join(f"{n} {c:,}" for n, c in info["class_counts"].items())
    )


def _info(args: argparse.Namespace) -> int:
    from aelab.data.config import DataConfig
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
    if args.split != "all" and kind != "named":
        log.warning(
            f"aelab data info: --split {args.split} needs a named dataset; showing all splits"
        )
    if args.split != "all" and kind == "named":
        split = load_split(cfg, args.split, download=download, progress=progress)
        found = locate(args.name, args.data_dir, (args.split,))
        classes = get_source(args.name).classes
        shape = split.images.shape[1:]
        splits = {args.split: _split_info(split, classes)}
    else:
        data = load_dataset(cfg, seed=args.seed, download=download, progress=progress)
        found = locate(args.name, args.data_dir) if kind == "named" else None
        classes, shape = data.classes, data.shape
        splits = {
            name: _split_info(split, classes)
            for name in ("train", "val", "test")
            if (split := data.by_name()[name]) is not None
            and not (name == "val" and args.validation == "test")
        }
    report = {
        "name": args.name,
        "found": found.place.describe() if found else None,
        "shape": [int(d) for d in shape],
        "classes": list(classes) if classes else None,
        "splits": splits,
    }
    if args.json:
        print_json(report)
        return 0
    print(f"{args.name}: {report['found']}" if report["found"] else args.name)
    c, h, w = report["shape"]
    print(f"shape {c}x{h}x{w}, {len(classes) if classes else 'no'} classes")
    for name, info in splits.items():
        print(_describe(name, info))
    return 0
