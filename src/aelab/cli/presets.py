"""``aelab presets``: list the reference presets (and those of installed plugins, with the
distribution that ships them); ``aelab presets show NAME``: a model summary."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import warnings
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aelab.cli.options import add_json_option, add_set_option, print_json
from aelab.errors import ConfigError
from aelab.presets import builtin_presets, load_preset, preset_path, preset_sources  # no torch

if TYPE_CHECKING:  # both import torch: only a preset computed (not from the index) needs it
    from aelab.config import RunConfig
    from aelab.models import Autoencoder

# beside the presets' TOML files: their listing and `show` texts, precomputed
INDEX_NAME = "index.json"
LISTING = ("name", "dataset", "family", "params", "description")  # `aelab presets` columns

HELP = "list the reference presets, or show one preset's model summary"
EPILOG = """examples:
  aelab presets
  aelab presets --json
  aelab presets --markdown    # every preset: provenance, layers, training (docs/presets.md)
  aelab presets show r1-fashion-sparse
  aelab presets show r4-cnn --toml   # a config file: > my.toml; aelab train --config my.toml
  aelab presets show r3-mnist-deep --set model.latent_dim=16
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print every preset as Markdown (the source of docs/presets.md)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="print a preset's Keras-like summary: layers, output shapes, parameter counts",
        description="Print a preset's Keras-like summary: layers, output shapes, parameters.",
    )
    show.add_argument("name", metavar="NAME", help="preset name (see `aelab presets`)")
    add_set_option(show, "preset")
    show.add_argument(
        "--toml",
        action="store_true",
        help="print the resolved config as a TOML file (the summary as comments): "
        "`> my-run.toml`, then `aelab train --config my-run.toml`",
    )


def _model(cfg: RunConfig) -> Autoencoder:
    """The model of ``cfg``, built from the model registry alone: ``aelab.api`` would bring
    in the evaluation stack (scikit-learn, SciPy, matplotlib), seconds before any output."""
    from aelab.data.config import dataset_shape
    from aelab.models import create_model

    model_cfg = cfg.model
    if model_cfg.input_shape is None:
        shape = dataset_shape(cfg.data)
        if shape is None:
            raise ConfigError(
                f"model.input_shape is not set and dataset {cfg.data.dataset!r} does not tell "
                "it: set model.input_shape = [channels, height, width] in the preset."
            )
        model_cfg = dataclasses.replace(model_cfg, input_shape=shape)
    return create_model(model_cfg)


def _show_text(cfg: RunConfig, name: str, model: Autoencoder) -> str:
    """What ``aelab presets show NAME`` prints: description, layer table, training line."""
    from aelab.models.summary import summary

    parts = [cfg.description, ""] if cfg.description else []
    return "\n".join([*parts, summary(model, name), _training(cfg)])


def _entry(name: str) -> dict[str, Any]:
    """Preset ``name``'s listing row and ``show`` text, computed: load the preset, build its
    model (torch)."""
    cfg = load_preset(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # over-complete codes are intended here (R4 CNN)
        model = _model(cfg)
        text = _show_text(cfg, name, model)
    return {
        "name": name,
        "dataset": cfg.data.dataset,
        "family": cfg.model.family,
        "params": model.num_parameters(),
        "description": cfg.description,
        "summary": text.splitlines(),  # lines: a change shows as such in the index's diff
    }


def _toml_digest(name: str) -> str:
    return hashlib.sha256(preset_path(name).read_bytes()).hexdigest()


def _index_path() -> Path:
    return Path(str(resources.files("aelab.presets").joinpath(INDEX_NAME)))


def build_index() -> dict[str, dict[str, Any]]:
    """Every built-in preset keyed by name: its listing row, its ``show`` text (``summary``)
    and the SHA-256 of its TOML, which says whether the entry still describes the file."""
    return {
        name: {**_entry(name), "toml_sha256": _toml_digest(name)}
        for name in sorted(builtin_presets())
    }


def write_index() -> Path:
    """Rewrite the shipped index (``python -m aelab.cli.presets``) after editing a preset,
    a model family or the summary; ``tests/unit/test_presets.py`` fails while it is stale."""
    path = _index_path()
    path.write_text(json.dumps(build_index(), indent=1) + "\n", encoding="utf-8")
    return path


def _read_index() -> dict[str, dict[str, Any]]:
    path = _index_path()
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _indexed(index: dict[str, dict[str, Any]], name: str) -> dict[str, Any] | None:
    """Preset ``name``'s shipped entry when its TOML is the one indexed, else None (a preset
    added or edited since, or one of a plugin: computed instead, same answer, slower)."""
    entry = index.get(name)
    if entry is None or entry.get("toml_sha256") != _toml_digest(name):
        return None
    return entry


def rows() -> list[dict[str, Any]]:
    """Every preset's listing row (shipped and from installed plugins). Rows come from the
    shipped index (no torch import, so ``aelab presets`` answers at once) where it is
    current, else are computed."""
    index = _read_index()
    out = []
    for name, source in preset_sources().items():
        entry = _indexed(index, name) or _entry(name)
        out.append({**{key: entry[key] for key in LISTING}, "source": source})
    return out


def _training(cfg) -> str:
    t = cfg.train
    return (
        f"Training: {t.optimizer} lr {t.lr:g}, batch {t.batch_size}, {t.epochs} epochs; "
        f"loss {cfg.model.loss} ({cfg.model.reduction}); data {cfg.data.dataset} "
        f"(validation: {cfg.data.validation})"
    )


def markdown() -> str:
    """Every preset as Markdown: an index, then per preset its reference (the file's first
    comment), data, loss, optimiser, batch and epochs, the layer-by-layer summary and the
    TOML file itself with its provenance comments. ``docs/presets.md`` is this text."""
    from aelab.models.summary import summary

    table = rows()
    out = [
        "# Presets",
        "",
        "Generated by `aelab presets --markdown > docs/presets.md` from the preset files in",
        "`src/aelab/presets/` (a test checks it is up to date); do not edit by hand.",
        "",
        "| preset | dataset | family | params | description |",
        "|---|---|---|---:|---|",
        *(
            f"| [{r['name']}](#{r['name']}) | {r['dataset']} | {r['family']} | "
            f"{r['params']:,} | {r['description']} |"
            for r in table
        ),
    ]
    for name in (r["name"] for r in table):
        cfg = load_preset(name)
        text = preset_path(name).read_text(encoding="utf-8")
        reference = next((ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")), "")
        t, m = cfg.train, cfg.model
        out += [
            "",
            f"## {name}",
            "",
            cfg.description,
            "",
            f"- Reference: {reference}",
            f"- Data: {cfg.data.dataset} (validation: {cfg.data.validation})",
            f"- Loss: {m.loss} ({m.reduction}); regulariser: {m.regularizer}",
            f"- Optimiser: {t.optimizer}, lr {t.lr:g}; batch {t.batch_size}; {t.epochs} epochs",
            "",
            f"Architecture (`aelab presets show {name}`):",
            "",
            "```text",
            summary(_model(cfg), name),
            "```",
            "",
            f"The preset file `src/aelab/presets/{name}.toml`, its provenance in the comments:",
            "",
            "```toml",
            text.rstrip("\n"),
            "```",
        ]
    return "\n".join(out) + "\n"


def _list(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print_json(table)
        return 0
    header = ("NAME", "DATASET", "FAMILY", "PARAMS", "SOURCE", "DESCRIPTION")
    cells = [
        (r["name"], r["dataset"], r["family"], f"{r['params']:,}", r["source"], r["description"])
        for r in table
    ]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(5)]
    for row in [header, *cells]:
        left = "  ".join(
            cell.rjust(w) if i == 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:5], widths, strict=True))
        )
        print(f"{left}  {row[5]}")
    return 0


def _show(args: argparse.Namespace) -> int:
    # a shipped preset as it is: its text from the index (no torch, answers at once)
    entry = None if args.sets else _indexed(_read_index(), args.name)
    cfg = None
    if entry is None:
        cfg = load_preset(args.name)
        if args.sets:
            cfg = cfg.override(args.sets)
        text = _show_text(cfg, args.name, _model(cfg))
    else:
        text = "\n".join(entry["summary"])
    if not args.toml:
        print(text)
        return 0
    # a config file as is (`> f.toml`, then `aelab train --config f.toml`): the summary
    # becomes TOML comments above the resolved config
    print("\n".join(f"# {line}".rstrip() for line in text.splitlines()))
    print()
    print((load_preset(args.name) if cfg is None else cfg).to_toml(), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown(), end="")
        return 0
    return _show(args) if args.action == "show" else _list(args)


if __name__ == "__main__":
    print(f"wrote {write_index()}")
