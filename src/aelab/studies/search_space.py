"""The search space of ``aelab tune``: typed ranges and choices over dotted config keys.

From flags (``--search model.latent_dim=int:8:64:log``, ``train.lr=float:1e-4:1e-2:log``,
``model.sparsity.kind=categorical:none,l1,topk``) or a ``[search]`` table beside a run
config; each parameter draws its value from an Optuna trial, and a trial's values are
applied to the base config like ``--set`` overrides, checked the same way.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aelab.config import RunConfig, load_toml, parse_value
from aelab.errors import ConfigError, check, check_choice, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import optuna

INT64_MAX = 2**63 - 1  # Optuna and the config store integers as int64

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
        # Types are checked, never coerced: "false" is not False, true is not 1, "none" is
        # not ["n", "o", "n", "e"].
        name = f"search {self.key!r}"
        check(
            isinstance(self.key, str) and "." in self.key,
            name,
            self.key,
            "a dotted config key such as model.latent_dim",
        )
        check(isinstance(self.type, str), f"{name} type", self.type, "a string")
        check_choice(f"{name} type", self.type, tuple(SUGGEST))
        check(isinstance(self.log, bool), f"{name} log", self.log, "true or false (a boolean)")
        if self.type == "categorical":
            check(
                isinstance(self.choices, tuple)
                and bool(self.choices)
                and all(isinstance(c, (str, int, float)) for c in self.choices),
                f"{name} choices",
                self.choices,
                'a non-empty list of strings, numbers or booleans, e.g. ["none", "l1"]',
            )
            return
        for bound in ("low", "high"):
            value = getattr(self, bound)
            check(
                isinstance(value, (int, float)) and not isinstance(value, bool),
                f"{name} {bound}",
                value,
                "a number (not a boolean or a string)",
            )
            finite = abs(value) <= sys.float_info.max  # False for inf and nan
            check(finite, f"{name} {bound}", value, "a finite number")
            if self.type == "int":
                check(float(value).is_integer(), f"{name} {bound}", value, "an integer")
                check(
                    abs(value) <= INT64_MAX,
                    f"{name} {bound}",
                    value,
                    f"an integer between -{INT64_MAX} and {INT64_MAX} (int64)",
                )
        check(self.low < self.high, f"{name} low", self.low, f"a number below high={self.high}")
        check(not self.log or self.low > 0, f"{name} low", self.low, "a number > 0 with log=true")
        check(
            math.isfinite(self.high - self.low),
            f"{name} low/high",
            (self.low, self.high),
            "a range whose width is a finite number",
        )
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
    if not isinstance(table, dict):
        raise ConfigError(
            f"[search] must be a table of KEY = {{type=..., ...}}, found {table!r}; e.g. "
            '[search] "model.latent_dim" = {type="int", low=8, high=64}.'
        )
    for key, spec in table.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError(
                f"[search] {key!r} must be a table with a type, found {spec!r}; e.g. "
                '{type="int", low=8, high=64}.'
            )
        for name in spec:
            if name not in known:
                raise ConfigError(
                    f"[search] {key!r}: unknown field {name!r}; known: {', '.join(known)}."
                    + did_you_mean(name, known)
                )
        choices = spec.get("choices", [])
        if not isinstance(choices, list):
            raise ConfigError(
                f"[search] {key!r}: choices={choices!r} is invalid: expected a list such as "
                f'choices = ["none", "l1"] (a string is one value, not a list of its letters).'
            )
        params.append(SearchParam(key, **{**spec, "choices": tuple(choices)}))
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
