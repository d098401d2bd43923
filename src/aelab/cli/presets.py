"""``aelab presets``: list the reference presets; ``aelab presets show NAME``: a model summary."""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from aelab.cli.options import add_json_option, print_json
from aelab.presets import list_presets, load_preset, preset_path  # no torch until loaded

INDEX_NAME = "index.json"  # beside the presets' TOML files: their listing, precomputed

HELP = "list the reference presets, or show one preset's model summary"
EPILOG = """examples:
  aelab presets
  aelab presets --json
  aelab presets show r1-fashion-sparse
  aelab presets show r4-cnn --toml
  aelab presets show r3-mnist-deep --set model.latent_dim=16
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="print a preset's Keras-like summary: layers, output shapes, parameter counts",
        description="Print a preset's Keras-like summary: layers, output shapes, parameters.",
    )
    show.add_argument("name", metavar="NAME", help="preset name (see `aelab presets`)")
    show.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dotted override, e.g. model.latent_dim=16 (repeatable)",
    )
    show.add_argument("--toml", action="store_true", help="also print the resolved config TOML")


def _row(name: str) -> dict[str, Any]:
    """One line of the listing, computed: load the preset and build its model (torch)."""
    from aelab.api import build_model

    cfg = load_preset(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # over-complete codes are intended here (R4 CNN)
        params = build_model(cfg).num_parameters()
    return {
        "name": name,
        "dataset": cfg.data.dataset,
        "family": cfg.model.family,
        "params": params,
        "description": cfg.description,
    }


def _toml_digest(name: str) -> str:
    return hashlib.sha256(preset_path(name).read_bytes()).hexdigest()


def _index_path() -> Path:
    return Path(str(resources.files("aelab.presets").joinpath(INDEX_NAME)))


def build_index() -> dict[str, dict[str, Any]]:
    """The listing of every preset keyed by name, each row with the SHA-256 of its TOML."""
    return {name: {**_row(name), "toml_sha256": _toml_digest(name)} for name in list_presets()}


def write_index() -> Path:
    """Rewrite the shipped listing (``python -m aelab.cli.presets``) after editing a preset
    or a model family; ``tests/unit/test_presets.py`` fails while it is stale."""
    path = _index_path()
    path.write_text(json.dumps(build_index(), indent=1) + "\n", encoding="utf-8")
    return path


def rows() -> list[dict[str, Any]]:
    """Every preset's listing row. Rows come from the shipped index (no torch import, so
    ``aelab presets`` answers at once) when the preset's TOML is the one indexed; a preset
    added or edited since is computed (slower, same answer)."""
    path = _index_path()
    index = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    out = []
    for name in list_presets():
        row = index.get(name)
        if row is None or row.get("toml_sha256") != _toml_digest(name):
            row = _row(name)
        out.append({k: v for k, v in row.items() if k != "toml_sha256"})
    return out


def _list(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print_json(table)
        return 0
    header = ("NAME", "DATASET", "FAMILY", "PARAMS", "DESCRIPTION")
    cells = [
        (r["name"], r["dataset"], r["family"], f"{r['params']:,}", r["description"]) for r in table
    ]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(4)]
    for row in [header, *cells]:
        left = "  ".join(
            cell.rjust(w) if i == 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:4], widths, strict=True))
        )
        print(f"{left}  {row[4]}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from aelab.api import build_model
    from aelab.models.summary import summary

    cfg = load_preset(args.name)
    if args.overrides:
        cfg = cfg.override(args.overrides)
    if cfg.description:
        print(cfg.description)
        print()
    print(summary(build_model(cfg), args.name))
    t = cfg.train
    print(
        f"Training: {t.optimizer} lr {t.lr:g}, batch {t.batch_size}, {t.epochs} epochs; "
        f"loss {cfg.model.loss} ({cfg.model.reduction}); data {cfg.data.dataset} "
        f"(validation: {cfg.data.validation})"
    )
    if args.toml:
        print()
        print(cfg.to_toml(), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    return _show(args) if args.action == "show" else _list(args)


if __name__ == "__main__":
    print(f"wrote {write_index()}")
