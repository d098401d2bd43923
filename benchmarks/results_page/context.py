"""What every section works with: the invocation's :class:`Context` (where runs and the page
go, how configs are adapted to it, what it found) and the small helpers the sections share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aelab.config import DataConfig, RunConfig
from aelab.errors import AelabError
from aelab.presets import load_preset
from aelab.report.page import Earlier, shrink_png
from aelab.studies.compare import summarize_run
from aelab.studies.runner import run_configs
from aelab.studies.sweep import Vary, run_sweep

from .protocol import Profile

DATASET_NAMES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
DATASETS = tuple(DATASET_NAMES)
FIGURE_LIMIT = 300 * 1024  # bytes per published figure
RESULTS = Path(__file__).resolve().parents[1] / "results"  # what the other benchmarks wrote
DS = "fashion"  # the R3 presets used: r3-fashion-*
Rows = dict[str, dict[str, Any]]  # run name (or swept value) -> comparison row


@dataclass
class Context:
    """Where things go, how configs are adapted to this invocation, and what it found."""

    profile: Profile
    out: Path
    docs: Path
    data_dir: str | None
    substitutes: dict[str, str]
    presets: tuple[str, ...] = ("*",)  # fnmatch patterns of the presets to reproduce
    members: tuple[str, ...] | None = None  # family-study members (None = all)
    sections: tuple[str, ...] = ()  # the sections this invocation runs, in page order
    available: dict[str, str] = field(default_factory=dict)  # dataset -> description
    missing: dict[str, str] = field(default_factory=dict)  # dataset -> why
    failures: dict[str, str] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    readme: Path | None = None  # the README whose results block this invocation rewrites
    results: Path = RESULTS  # the benchmarks' results that section 7 collects
    earlier: Earlier | None = None  # --carry-over: the page whose parts not run here are kept
    carried: list[str] = field(default_factory=list)  # the parts kept from it
    quiet: bool = True
    log: Callable[[str], None] = print

    def data_values(self, dataset: str) -> dict[str, Any]:
        """Values that point a config of ``dataset`` at its files and apply the limits."""
        p = self.profile
        values: dict[str, Any] = {}
        if dataset in self.substitutes:
            values["data.dataset"] = self.substitutes[dataset]
        elif self.data_dir:
            values["data.data_dir"] = self.data_dir
        limits = {"data.train_limit": p.train_limit, "data.test_limit": p.test_limit}
        values.update({k: v for k, v in limits.items() if v})
        if p.val_size is not None:
            values["data.val_size"] = p.val_size
        return values

    def config(
        self, preset: str, values: Mapping[str, Any] | None = None, epochs: int | None = None
    ) -> RunConfig:
        cfg = load_preset(preset)
        merged = {**self.data_values(cfg.data.dataset), **(values or {})}
        return cfg.with_values(merged if epochs is None else {**merged, "train.epochs": epochs})

    def run(self, configs: dict[str, RunConfig], folder: str) -> dict[str, Path]:
        """Train the configs into ``out/folder``; the finished runs by name."""
        outcome = run_configs(configs, self.out / folder, quiet=self.quiet, log=self.log)
        self.failures.update({f"{folder}/{n}": why for n, why in outcome.failed.items()})
        return outcome.done

    def sweep(self, folder: str, base: RunConfig, vary: Vary, epochs: int) -> dict[str, Path]:
        """One-key sweep into ``out/folder``; the finished runs by value label."""
        quiet, log = self.quiet, self.log
        result = run_sweep(
            base,
            [vary],
            self.out / folder,
            epochs=epochs,
            quiet=quiet,
            log=log,
            raise_on_failure=False,
        )
        self.failures.update({f"{folder}/{n}": w for n, w in result.outcome.failed.items()})
        return result.by_label(vary.key)

    def publish(self, source: Path, name: str) -> str | None:
        """Copy a figure into docs/figures (shrunk to fit FIGURE_LIMIT); its page link."""
        if not source.exists():
            return None
        target = self.docs / "figures" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shrink_png(source, target, FIGURE_LIMIT)
        self.figures.append(name)
        return f"figures/{name}"

    def save(self, fig: Any, name: str) -> str:
        from aelab.viz.save import save_figure

        return self.publish(save_figure(fig, self.out / "figures" / name), name) or ""


def check_datasets(ctx: Context) -> None:
    """Which datasets load here (with the invocation's data options)."""
    from aelab.data import load_dataset

    for name in DATASETS:
        spec = ctx.substitutes.get(name, name)
        data_dir = None if name in ctx.substitutes else ctx.data_dir
        cfg = DataConfig(dataset=spec, data_dir=data_dir, validation="none")
        try:
            data = load_dataset(cfg, download=False, progress=False)
        except AelabError as exc:
            ctx.missing[name] = str(exc).split(". ")[0]
            continue
        shape = "x".join(map(str, data.shape))
        where = f" (substituted by {spec})" if name in ctx.substitutes else ""
        ctx.available[name] = f"{len(data.train):,} train / {len(data.test):,} test, {shape}{where}"


def rows_of(run_dirs: Mapping[str, Path]) -> Rows:
    return {name: summarize_run(path)[0] for name, path in run_dirs.items()}


def verdict(ok: bool | None, yes: str = "supported", no: str = "not supported") -> str:
    return "**not run**" if ok is None else f"**{yes}**" if ok else f"**{no}**"
