"""``aelab presets``: list the reference presets (and those of installed plugins, with the
distribution that ships them); ``aelab presets show NAME``: a model summary."""

from __future__ import annotations

import argparse
import warnings

HELP = "list the reference presets, or show one preset's model summary"
EPILOG = """examples:
  aelab presets
  aelab presets show r1-fashion-sparse
  aelab presets show r4-cnn --toml
  aelab presets show r3-mnist-deep --set model.latent_dim=16
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def _list() -> int:
    from aelab.api import build_model
    from aelab.presets import load_preset, preset_sources

    rows = []
    for name, source in preset_sources().items():
        cfg = load_preset(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # over-complete codes are intended here (R4 CNN)
            params = build_model(cfg).num_parameters()
        row = (name, cfg.data.dataset, cfg.model.family, f"{params:,}", source, cfg.description)
        rows.append(row)
    header = ("NAME", "DATASET", "FAMILY", "PARAMS", "SOURCE", "DESCRIPTION")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        left = "  ".join(
            cell.rjust(w) if i == 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:5], widths, strict=True))
        )
        print(f"{left}  {row[5]}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from aelab.api import build_model
    from aelab.models.summary import summary
    from aelab.presets import load_preset

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
    return _show(args) if args.action == "show" else _list()
