"""Reproduce the reference systems and settle their claims with numbers: writes
``docs/results.md`` and ``docs/figures/*.png``.

    python benchmarks/reproduce.py --quick      # 1 epoch on a subset: checks the pipeline
    python benchmarks/reproduce.py              # the references' epochs: the real numbers

A list of sections, one module each in ``results_page/``, each calling aelab's own APIs
(``aelab.studies.runner.run_configs``, ``aelab.studies.sweep.run_sweep``,
``aelab.studies.family_study``, ``aelab.studies.compare``, ``aelab.studies.claims``,
``aelab.reuse.probe``): no side code paths. Their tables read labels, formats and
directions from the metric catalog (``aelab.metrics.catalog``). Runs live under ``--out``;
a finished run is never retrained, so an interrupted reproduction is resumed by running the
same command again. Every number on the page is computed in the invocation that writes it
(reference figures quoted from docs/reference-systems.md are labelled as such).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from aelab.errors import AelabError
from aelab.report.page import Earlier
from results_page import best, claims, downstream, family, mnist, presets, sweeps
from results_page.best import BEST_CANDIDATES as BEST_CANDIDATES  # conv_layout_bench.py
from results_page.context import DATASETS, Context
from results_page.page import README_END, README_START, Section, prune_figures, reproduce
from results_page.protocol import FULL, QUICK, Profile, capped

# The page's sections, in order; ``--sections`` runs a subset (claims need the first three).
SECTIONS: tuple[Section, ...] = tuple(
    m.SECTION for m in (presets, family, sweeps, claims, best, mnist, downstream)
)
TITLES = {s.key: s.title for s in SECTIONS}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Reproduce the reference systems and write docs/results.md.",
        epilog="examples:\n  python benchmarks/reproduce.py --quick --out runs/reproduce-quick "
        "--docs /tmp/docs\n  python benchmarks/reproduce.py            # full: hours on 2 CPU cores",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="1 epoch on a subset: a pipeline check")
    add("--data-dir", help="where the dataset files are (data.data_dir of every run)")
    add(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="use SPEC (e.g. idx:/path) in place of dataset NAME; the page says so (repeatable)",
    )
    add("--out", help="folder of the runs (default runs/reproduce[-quick])")
    add("--docs", default="docs", help="where results.md and figures/ go (default docs)")
    add("--train-limit", type=int, help="override the mode's training-image limit (0 = all)")
    add("--test-limit", type=int, help="override the mode's test-image limit (0 = all)")
    add("--val-size", type=int, help="override the validation split size")
    add(
        "--max-epochs",
        type=int,
        metavar="N",
        help="cap every run's epochs at N (R1 keeps its full epochs for the Keras comparison); "
        "the page says so in its header and in every section",
    )
    add(
        "--full-presets",
        action="store_true",
        help="with --max-epochs: section 1 still trains every preset at its own epochs",
    )
    add(
        "--presets",
        default="*",
        help="comma-separated globs of the presets to reproduce (default all)",
    )
    add(
        "--members",
        help="comma-separated family-study members (default all; see aelab family-study)",
    )
    add(
        "--sections",
        default=",".join(TITLES),
        help=f"comma-separated sections to run (default all: {','.join(TITLES)}); the claims "
        "need presets, family and sweeps. Runs are shared, so invocations with different "
        "sections can run side by side and a final one with all sections writes the whole page",
    )
    add(
        "--readme",
        default="README.md",
        help=f"README whose block between {README_START} and {README_END} gets the page's "
        "headline when every section ran (default README.md; skipped when it has no block)",
    )
    add(
        "--carry-over",
        action="store_true",
        help="keep what this invocation does not run from the existing page: the other "
        "sections, and section 1's parts of datasets with no preset in --presets (each "
        "marked with the date and commit of the page it came from)",
    )
    add("--verbose", action="store_true", help="show training progress")
    args = parser.parse_args(argv)
    args.error = lambda msg: parser.exit(2, f"reproduce: {msg}\n")
    return args


def split(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def profile_of(args: argparse.Namespace) -> Profile:
    """The mode's profile with the command line's limits and epoch cap applied."""
    profile = QUICK if args.quick else FULL
    limits = {"train_limit": args.train_limit, "test_limit": args.test_limit}
    changes = {k: v for k, v in {**limits, "val_size": args.val_size}.items() if v is not None}
    if args.train_limit is not None:
        changes["probe_train_limit"] = args.train_limit or profile.probe_train_limit
    profile = dataclasses.replace(profile, **changes)
    if args.max_epochs is not None:
        if args.max_epochs < 1:
            args.error("--max-epochs must be at least 1")
        profile = capped(profile, args.max_epochs)
    return dataclasses.replace(profile, cap_presets=not args.full_presets)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    profile = profile_of(args)
    sections = split(args.sections)
    if not sections or not set(sections) <= set(TITLES):
        args.error(f"--sections {args.sections!r}: expected some of {', '.join(TITLES)}")
    for s in SECTIONS:
        if s.key in sections and not set(s.needs) <= set(sections):
            args.error(
                f"--sections: the {s.key} need {', '.join(s.needs)} in the same invocation "
                "(their numbers are its evidence)"
            )
    substitutes = dict(item.partition("=")[::2] for item in args.dataset)
    if any(n not in DATASETS or not spec for n, spec in substitutes.items()):
        args.error(
            f"--dataset {args.dataset}: expected NAME=SPEC with NAME in {', '.join(DATASETS)}"
        )
    ctx = Context(
        profile,
        Path(args.out or ("runs/reproduce-quick" if args.quick else "runs/reproduce")),
        Path(args.docs),
        args.data_dir,
        substitutes,
        presets=split(args.presets),
        members=split(args.members) or None,
        sections=tuple(s for s in TITLES if s in sections),  # page order
        readme=Path(args.readme),
        earlier=Earlier.read(Path(args.docs) / "results.md") if args.carry_over else None,
        quiet=not args.verbose,
    )
    try:
        path = reproduce(ctx, SECTIONS)
    except AelabError as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    figures = prune_figures(ctx, path)
    print(f"wrote {path} and {len(ctx.figures)} figures in {figures}")
    if ctx.failures:
        print(f"{len(ctx.failures)} run(s) failed; see the page's last section", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
