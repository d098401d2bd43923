"""The family study R3 and R4 describe, in one command: vanilla, deep, convolutional,
sparse (L1, KL, top-k), denoising, LSTM and VAE autoencoders trained under one protocol
(the same data and split, epochs, code size and seed), then compared.

Each member is a reference preset plus overrides (``STUDY``); the protocol then replaces the
data section, the epochs, the seed and the code size of every member with the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aelab.config import RunConfig
from aelab.errors import ConfigError
from aelab.metrics import catalog
from aelab.metrics.catalog import DEFAULT_RANK
from aelab.presets import load_preset
from aelab.studies.compare import compare_runs, summary_text
from aelab.studies.runner import Executor, RunOutcome, raise_failures, run_configs


@dataclass(frozen=True)
class CodeFraction:
    """A value set from the protocol's code size: ``latent_dim // divisor``, at least 1."""

    divisor: int

    def resolve(self, latent_dim: int) -> int:
        return max(1, latent_dim // self.divisor)


@dataclass(frozen=True)
class Member:
    """One model of the study: a preset (``{ds}`` = the R3 dataset key) plus typed
    overrides by dotted path (a :class:`CodeFraction` is filled from the code size)."""

    name: str
    preset: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def values(self, latent_dim: int) -> dict[str, Any]:
        return {
            k: v.resolve(latent_dim) if isinstance(v, CodeFraction) else v
            for k, v in self.overrides.items()
        }


STUDY: tuple[Member, ...] = (
    Member("vanilla", "r3-{ds}-vanilla", {}, "dense, one hidden layer (the code)"),
    Member("deep", "r3-{ds}-deep", {}, "dense, symmetric hidden layers"),
    Member("conv", "r3-{ds}-conv", {}, "conv + pooling encoder, upsampling decoder, dense code"),
    Member("sparse-l1", "r3-{ds}-sparse", {}, "dense, L1 activity penalty on the code"),
    Member(
        "sparse-kl",
        "r3-{ds}-sparse",
        {"model.sparsity.kind": "kl", "model.sparsity.weight": 1e-3, "model.sparsity.rho": 0.05},
        "dense, KL(rho=0.05) sparsity on a sigmoid code, weight 1e-3",
    ),
    Member(
        "sparse-topk",
        "r3-{ds}-sparse",
        {
            "model.sparsity.kind": "topk",
            "model.sparsity.weight": 0,
            "model.sparsity.k": CodeFraction(4),
        },
        "dense, top-k code (k = code size / 4)",
    ),
    Member("denoising", "r3-{ds}-denoising", {}, "dense, Gaussian input noise, clean target"),
    Member("lstm", "r4-rnn", {"model.latent": "linear"}, "LSTM over image rows (R4), linear code"),
    Member("vae", "r4-vae", {}, "variational, dense encoder (R4), summed MSE + KL"),
)
# The R3 presets exist for these datasets; any other dataset uses the Fashion-MNIST ones
# with the dataset replaced.
R3_DATASET_KEYS = {"fashion-mnist": "fashion", "mnist": "mnist"}


def study_configs(
    dataset: str = "fashion-mnist",
    *,
    latent_dim: int = 32,
    epochs: int | None = None,
    seed: int | None = None,
    sets: Mapping[str, Any] | None = None,
    members: Sequence[str] | None = None,
) -> dict[str, RunConfig]:
    """The configs of the study, named by member. ``sets`` apply to every member last;
    then the data section of the first member is given to all, and the epochs and seed
    (default: the first member's) too."""
    chosen = list(STUDY)
    if members is not None:
        known = {m.name for m in STUDY}
        unknown = [m for m in members if m not in known]
        if unknown:
            raise ConfigError(
                f"unknown study member(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
            )
        chosen = [m for m in STUDY if m.name in members]
    ds_key = R3_DATASET_KEYS.get(dataset, "fashion")
    configs: dict[str, RunConfig] = {}
    for member in chosen:
        base = load_preset(member.preset.format(ds=ds_key))
        values = {
            "data.dataset": dataset,
            "model.latent_dim": latent_dim,
            **member.values(latent_dim),
            **(sets or {}),
        }
        try:
            cfg = base.with_values(values)
        except ConfigError as exc:
            raise ConfigError(f"family study member {member.name!r}: {exc}") from None
        configs[member.name] = cfg
    if not configs:
        return configs
    first = next(iter(configs.values()))
    # every member trains on the first member's data, epochs and seed: one set of values
    shared = {f"data.{key}": value for key, value in first.to_dict()["data"].items()}
    shared["train.epochs"] = epochs or first.train.epochs
    shared["train.seed"] = seed if seed is not None else first.train.seed
    out = {}
    for name, cfg in configs.items():
        out[name] = cfg.with_values(
            {**shared, "name": f"study-{name}", "description": _describe(name, cfg)}
        )
    return out


def _describe(name: str, cfg: RunConfig) -> str:
    member = next(m for m in STUDY if m.name == name)
    return f"family study: {member.description} (from {cfg.preset})"


@dataclass
class StudyResult:
    out_dir: Path
    configs: dict[str, RunConfig]
    outcome: RunOutcome
    comparison: Any = None  # aelab.studies.compare.Comparison


def run_family_study(
    out_dir: str | Path,
    *,
    dataset: str = "fashion-mnist",
    latent_dim: int = 32,
    epochs: int | None = None,
    seed: int | None = None,
    sets: Mapping[str, Any] | None = None,
    members: Sequence[str] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
    raise_on_failure: bool = True,
    rank_by: str = DEFAULT_RANK,
) -> StudyResult:
    """Train (or finish) every member into ``out_dir/<member>``, write the comparison
    (table, metric bars, loss curves, reconstruction grid, HTML) into ``out_dir`` and log
    its table and the best member by ``rank_by``: a metric that means the same for every
    member (test MSE by default), never the members' own losses, which differ."""
    catalog.rankable(rank_by)  # a wrong --rank-by fails before any training
    configs = study_configs(
        dataset, latent_dim=latent_dim, epochs=epochs, seed=seed, sets=sets, members=members
    )
    out = Path(out_dir)
    log(f"family study on {dataset}: {len(configs)} models, code size {latent_dim} into {out}")
    outcome = run_configs(
        configs, out, jobs=jobs, executor=executor, quiet=quiet, log=log, rank_by=rank_by
    )
    result = StudyResult(out, configs, outcome)
    finished = list(outcome.done.values())
    if finished:
        title = f"Family study · {dataset} · code size {latent_dim}"
        # The members differ by design (family, regulariser: columns of their own), so no
        # config key is listed as varied.
        result.comparison = compare_runs(
            finished, out, title=title, log=log, reuse=True, rank_by=rank_by, varied=()
        )
        log(summary_text(result.comparison))
    if raise_on_failure:
        raise_failures(outcome)
    return result
