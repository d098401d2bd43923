"""The search space of ``aelab tune``: typed ranges and choices over dotted config keys.

From flags (``--search model.latent_dim=int:8:64:log``, ``train.lr=float:1e-4:1e-2:log``,
``model.sparsity.kind=categorical:none,l1,topk``) or a ``[search]`` table beside a run
config; each parameter draws its value from an Optuna trial, and a trial's values are
applied to the base config like ``--set`` overrides, checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aelab.config import RunConfig, load_toml, parse_value
from aelab.errors import ConfigError, check, check_choice, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import optuna

SUGGEST: dict[str, Callable[[Any, SearchParam], Any]] = {
    "int": lambda trial, p: trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log),
    "float": lambda trial, p: trial.suggest_float(p.key, p.low, p.high, log=p.log),
    "categorical": lambda trial, p: trial.suggest_categorical(p.key, list(p.choices)),
}


@dataclass(frozen=True)
class SearchParam:
    """One searched config key: ``int``/``float`` in [low, high] (``log`` scale) or one of
    ``choices`` (strings, numbers or booleans)."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        name = f"search {self.key!r}"
        check("." in self.key, name, self.key, "a dotted config key such as model.latent_dim")
        check_choice(f"{name} type", self.type, tuple(SUGGEST))
        if self.type == "categorical":
            check(
                bool(self.choices) and all(isinstance(c, (str, int, float)) for c in self.choices),
                f"{name} choices",
                list(self.choices),
                "a non-empty list of strings, numbers or booleans",
            )
            return
        check(
            isinstance(self.low, (int, float)) and isinstance(self.high, (int, float)),
            f"{name} low/high",
            (self.low, self.high),
            "two numbers",
        )
        check(self.low < self.high, f"{name} low", self.low, f"a number below high={self.high}")
        check(not self.log or self.low > 0, f"{name} low", self.low, "a number > 0 with log=true")
        if self.type == "int":
            whole = float(self.low).is_integer() and float(self.high).is_integer()
            check(whole, f"{name} low/high", (self.low, self.high), "integers")
        number = int if self.type == "int" else float  # 8 and 8.0 are the same bound
        object.__setattr__(self, "low", number(self.low))
        object.__setattr__(self, "high", number(self.high))

    def suggest(self, trial: optuna.Trial) -> Any:
        return SUGGEST[self.type](trial, self)

    def to_table(self) -> dict[str, Any]:
        """The ``[search]`` entry of this parameter (as written in tune.toml)."""
        if self.type == "categorical":
            return {"type": self.type, "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high} | (
            {"log": True} if self.log else {}
        )


def parse_search(text: str) -> SearchParam:
    """``model.latent_dim=int:8:64:log``, ``train.lr=float:1e-4:1e-2:log`` or
    ``model.sparsity.kind=categorical:none,l1,topk``."""
    key, sep, spec = text.partition("=")
    kind, _, rest = spec.partition(":")
    example = "e.g. model.latent_dim=int:8:64:log or model.sparsity.kind=categorical:none,l1"
    if not sep or not rest:
        raise ConfigError(f"--search {text!r} is invalid: expected KEY=TYPE:..., {example}.")
    if kind == "categorical":
        # "none" is a choice here, not "unset" as in --set
        choices = tuple(
            c.strip() if parse_value(c) is None else parse_value(c) for c in rest.split(",")
        )
        return SearchParam(key.strip(), kind, choices=choices)
    parts = rest.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
        raise ConfigError(f"--search {text!r} is invalid: expected KEY={kind}:LOW:HIGH[:log].")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise ConfigError(f"--search {text!r}: LOW and HIGH must be numbers; {example}.") from None
    return SearchParam(key.strip(), kind, low, high, log=len(parts) == 3)


def search_from_table(table: dict[str, Any]) -> list[SearchParam]:
    """The ``[search]`` table: ``"model.latent_dim" = {type="int", low=8, high=64, log=true}``."""
    known = ("type", "low", "high", "log", "choices")
    params = []
    for key, spec in table.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError(
                f'[search] {key!r} must be a table with a type, e.g. {{type="int", low=8, high=64}}.'
            )
        for name in spec:
            if name not in known:
                raise ConfigError(
                    f"[search] {key!r}: unknown field {name!r}; known: {', '.join(known)}."
                    + did_you_mean(name, known)
                )
        params.append(SearchParam(key, **{**spec, "choices": tuple(spec.get("choices", ()))}))
    return params


def load_tune_file(path: str | Path) -> tuple[RunConfig, list[SearchParam]]:
    """A run config TOML with an optional ``[search]`` table."""
    data = load_toml(path)
    search = data.pop("search", {})
    return RunConfig.from_dict(data), search_from_table(search)


def trial_config(
    base: RunConfig, space: Sequence[SearchParam], values: dict[str, Any]
) -> RunConfig:
    """``base`` with the trial's values applied (checked like ``--set`` overrides)."""
    return base.with_values({p.key: values[p.key] for p in space})


def check_space(base: RunConfig, space: Sequence[SearchParam]) -> None:
    """Every key exists and takes its low, high and choices: mistakes fail before trial 0."""
    keys = [p.key for p in space]
    if not space:
        raise ConfigError("nothing to search: give --search KEY=TYPE:... or a [search] table.")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"the search names a key twice ({', '.join(keys)}).")
    for p in space:
        values = p.choices if p.type == "categorical" else (p.low, p.high)
        for value in values:
            base.with_values({p.key: value})


__all__ = [
    "SearchParam",
    "check_space",
    "load_tune_file",
    "parse_search",
    "search_from_table",
    "trial_config",
]
