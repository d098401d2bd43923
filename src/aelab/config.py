"""Run configuration: frozen dataclasses per concern, TOML in and out, dotted overrides.

A run is fully described by a :class:`RunConfig` (data + model + train). The saved
``config.toml`` of a run is complete: loading it and training again gives the same run.

Each concern's config lives beside the code it configures (``DataConfig`` in
``aelab.data.config``, ``ModelConfig`` in ``aelab.models.base``, the regularisers' in
``aelab.layers``); this module holds the training config, the run config that joins
them and the TOML/override machinery. Model configs are polymorphic: each family
registers its own subclass of :class:`ModelConfig`; the ``family`` key picks it.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import tomli_w

from aelab.atomic import atomic_write_text
from aelab.data.config import DataConfig
from aelab.errors import ConfigError, check, check_choice, check_numbers, did_you_mean
from aelab.layers.noise import NoiseConfig
from aelab.layers.sparsity import SparsityConfig
from aelab.models.base import ModelConfig
from aelab.models.registry import config_class
from aelab.viz import FIGURE_SETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# --------------------------------------------------------------------------- sections

MAX_SEED = 2**32 - 1  # NumPy's legacy seeds and scikit-learn's random_state: one range for all


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation: epochs, batches, optimiser, schedule, stopping, device."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    early_stopping: int = 0
    min_delta: float = 0.0
    restore_best: bool = False
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    shuffle: bool = True
    checkpoint_every: int = 1
    eval_batch_size: int = 1024
    threads: int = 0
    # Experiment trackers, each "name" or "name=target" (aelab.training.trackers).
    track: tuple[str, ...] = ()
    # the figures the evaluation draws: all, basic (reconstructions and loss curves: the
    # fast choice for sweeps) or none; see aelab.viz.FIGURE_SETS
    figures: str = "all"

    def __post_init__(self) -> None:
        check_numbers(self)
        check(self.epochs >= 1, "epochs", self.epochs, "an integer >= 1")
        check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        check(self.lr > 0, "lr", self.lr, "a learning rate > 0")
        check(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"an integer from 0 to {MAX_SEED:,}")
        check_choice("optimizer", self.optimizer, ("adam", "adamw", "sgd"))
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        check_choice("schedule", self.schedule, ("none", "cosine", "step"))
        check(self.step_size >= 1, "step_size", self.step_size, "an integer >= 1")
        check(0 < self.gamma <= 1, "gamma", self.gamma, "a factor in (0, 1]")
        check(
            self.early_stopping >= 0,
            "early_stopping",
            self.early_stopping,
            "a patience >= 0 (0 = off)",
        )
        check(self.min_delta >= 0, "min_delta", self.min_delta, "a number >= 0")
        check(bool(self.device), "device", self.device, "auto, cpu, cuda or cuda:N")
        check_choice("precision", self.precision, ("fp32", "bf16", "fp16"))
        check(
            self.checkpoint_every >= 1, "checkpoint_every", self.checkpoint_every, "an integer >= 1"
        )
        check(self.eval_batch_size >= 1, "eval_batch_size", self.eval_batch_size, "an integer >= 1")
        check(self.threads >= 0, "threads", self.threads, "an integer >= 0 (0 = automatic)")
        check(
            all(spec.partition("=")[0] for spec in self.track),
            "track",
            list(self.track),
            'tracker names such as "tensorboard" or "mlflow=sqlite:///mlflow.db"',
        )
        check_choice("figures", self.figures, tuple(FIGURE_SETS))


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. ``preset`` records where it came from."""

    name: str | None = None
    preset: str | None = None
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.name is not None:
            check_run_name(self.name)
        if type(self.model) is ModelConfig:
            # The base class carries only the shared fields: resolve the family's own config
            # class so a default-built RunConfig equals its TOML round trip.
            object.__setattr__(self, "model", from_dict(ModelConfig, to_dict(self.model), "model"))
        if self.data.validation == "test":
            check(
                self.train.early_stopping == 0 and not self.train.restore_best,
                "train.early_stopping",
                self.train.early_stopping,
                "0 with restore_best=false when data.validation='test' "
                "(the test set is never used for model selection)",
            )

    # -- conversions ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return from_dict(cls, data)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        """Write ``config.toml`` atomically."""
        atomic_write_text(path, self.to_toml())

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(load_toml(path))

    def override(self, assignments: list[str]) -> RunConfig:
        """Apply dotted ``section.field=value`` texts (``model.latent_dim=16``): see
        :func:`set_values`."""
        return set_values(self, [parse_assignment(a) for a in assignments])

    def with_values(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> RunConfig:
        """Set values by dotted path (``{"model.latent_dim": 16}``): see :func:`set_values`."""
        return set_values(self, values)


def check_run_name(name: Any) -> None:
    """A run name is one path component (it names the run's folder under runs/): a string,
    not empty, without ``/``, ``\\`` or NUL and not ``.`` or ``..``."""
    check(
        isinstance(name, str)
        and name.strip() not in ("", ".", "..")
        and not any(c in name for c in "/\\\0"),
        "name",
        name,
        "a run name that is one folder name (no /, \\, NUL, '.' or '..'), e.g. r1-quick",
    )


def with_input_shape(config: RunConfig, shape: tuple[int, int, int]) -> RunConfig:
    """``config`` with ``model.input_shape`` filled from the data (checked when already set)."""
    current = config.model.input_shape
    if current is not None and tuple(current) != tuple(shape):
        raise ConfigError(
            f"model.input_shape={list(current)} does not match the data ({list(shape)}); "
            "remove model.input_shape from the config to take it from the data."
        )
    model = dataclasses.replace(config.model, input_shape=tuple(shape))
    return dataclasses.replace(config, model=model)


# --------------------------------------------------------------------------- dict <-> dataclass


def to_dict(obj: Any) -> dict[str, Any]:
    """A TOML-ready dict: tuples become lists, ``None`` values are left out."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"config file {path} is a folder, expected a TOML file (e.g. {path / 'config.toml'})."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start:,}), expected a TOML file, which is UTF-8; save it as UTF-8."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None


def from_dict(cls: type, data: dict[str, Any], path: str = "") -> Any:
    """Build dataclass ``cls`` from a plain dict, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{path or cls.__name__}] must be a table, found {data!r}.")
    if cls is ModelConfig:
        # Polymorphic: the ``family`` key picks the family's own config class.
        cls = config_class(data.get("family", ModelConfig.family))
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            where = f"[{path}]" if path else "the config"
            raise ConfigError(
                f"unknown key '{key}' in {where}; known keys: {', '.join(sorted(known))}."
                + did_you_mean(key, known)
            )
    kwargs = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        kwargs[key] = _coerce(hints[key], value, dotted)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        prefix = f"{path}." if path else ""
        msg = str(exc)
        raise ConfigError(prefix + msg if prefix and not msg.startswith(prefix) else msg) from None


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{path}={value!r} has the wrong type.")
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            return value
        return from_dict(tp, value, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}={value!r} is invalid: expected a list.")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, path) for v in value)
        if len(args) != len(value):
            raise ConfigError(
                f"{path}={list(value)!r} is invalid: expected a list of {len(args)} values."
            )
        return tuple(_coerce(a, v, path) for a, v in zip(args, value, strict=True))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}={value!r} is invalid: expected true or false.")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path}={value!r} is invalid: expected an integer.")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{path}={value!r} is invalid: expected a number.")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{path}={value!r} is invalid: expected a string.")
    if tp is Any:
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug, not a user error


# --------------------------------------------------------------------------- overrides


def parse_value(text: str) -> Any:
    """Parse an override's value as a TOML literal; bare words stay strings.

    ``16`` -> 16, ``1e-3`` -> 0.001, ``[256, 128]`` -> list, ``256,128`` -> list,
    ``true`` -> True, ``relu`` -> "relu", ``none``/``null`` -> None (see
    :func:`set_values`: None unsets only a field that may be None).
    """
    text = text.strip()
    if text.lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if "," in text:
        return [parse_value(part) for part in text.split(",") if part.strip()]
    return text


def parse_assignment(text: str) -> tuple[str, str]:
    """``model.latent_dim=16`` -> ``("model.latent_dim", "16")``: the CLI boundary of
    overrides. The value stays text: :func:`set_values` parses it with the field's type."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"override {text!r} is invalid: expected section.field=value, e.g. model.latent_dim=16."
        )
    return key, raw.strip()


_SHARED_MODEL_FIELDS = frozenset(f.name for f in fields(ModelConfig))


def set_values(cfg: RunConfig, values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> RunConfig:
    """``cfg`` with each dotted key (``model.latent_dim``, ``train.epochs``, ``name``) set, in
    order: the one way a config value is set (``--set``, the named flags such as ``--epochs``,
    sweep points, search trials, the Python API).

    A ``str`` value is text, parsed with the field's type: ``"16"`` is 16 for an int field,
    ``"1e-3"`` stays ``"1e-3"`` for a str field, ``"none"`` unsets a field that may be None
    (elsewhere it is the word). Other values are typed already. An unknown key is a
    ConfigError with a did-you-mean; ranges are checked by the config dataclasses.

    Switching ``model.family`` keeps the fields every family shares (latent_dim, loss,
    sparsity, noise, ...) and resets the old family's own fields, so any preset can be tried
    with another family (``--set model.family=conv``)."""
    pairs = list(values.items()) if isinstance(values, Mapping) else list(values)
    # the family first: it decides which fields (and types) the other model keys have
    pairs.sort(key=lambda pair: pair[0] != "model.family")
    data = cfg.to_dict()
    family = dict(pairs).get("model.family")
    if family is not None and family != cfg.model.family:
        data["model"] = {k: v for k, v in data["model"].items() if k in _SHARED_MODEL_FIELDS}
    for key, value in pairs:
        parts = key.split(".")
        node = _section(data, key, parts)
        tp = _field_type(data, parts)
        if isinstance(value, str):
            value = _from_text(tp, value)
        if value is None and _accepts_none(tp):
            node.pop(parts[-1], None)
        else:  # a None for a field that cannot be None is the word itself: validation=none
            node[parts[-1]] = "none" if value is None else value
    try:
        return RunConfig.from_dict(data)
    except ConfigError as exc:
        message = str(exc)
        if any(key in message for key, _ in pairs):  # it names the key: enough said
            raise ConfigError(message) from None
        shown = ", ".join(f"{k}={v}" for k, v in pairs)
        raise ConfigError(f"setting {shown}: {message}") from None


def _section(data: dict[str, Any], key: str, parts: list[str]) -> dict[str, Any]:
    """The dict that holds the last part of dotted ``parts`` (made for optional sections)."""
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None and depth > 0:
            child = node.setdefault(part, {})
        if not isinstance(child, dict):
            known = [k for k, v in node.items() if isinstance(v, dict)]
            raise ConfigError(
                f"override {key!r}: '{part}' is not a section; sections here: "
                f"{', '.join(known)}." + did_you_mean(part, known)
            )
        node = child
    return node


def _from_text(tp: Any, text: str) -> Any:
    """``text`` parsed for a field of type ``tp`` (None: no such field, reported later)."""
    value = parse_value(text)
    union = typing.get_origin(tp) in (Union, types.UnionType)
    options = [a for a in typing.get_args(tp) if a is not type(None)] if union else [tp]
    if str in options and value is not None and not isinstance(value, str):
        return text.strip()  # a str field keeps what was written: name=1e-3
    variadic = typing.get_origin(options[0]) is tuple and typing.get_args(options[0])[-1:] == (
        Ellipsis,
    )
    if variadic and value is not None and not isinstance(value, list):
        return [value]  # one item of a list field: train.track=tensorboard
    return value


def _field_type(data: dict[str, Any], parts: list[str]) -> Any:
    """The declared type of the field at dotted ``parts`` (None when there is no such
    field); ``model`` sections resolve to their family's config class."""
    cls: Any = RunConfig
    node: Any = data
    for depth, part in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            return None
        if cls is ModelConfig:
            family = node.get("family", ModelConfig.family) if isinstance(node, dict) else None
            try:
                cls = config_class(family)
            except ConfigError:
                return None  # the unknown family is reported when the config is built
        tp = typing.get_type_hints(cls).get(part)
        if tp is None or depth == len(parts) - 1:
            return tp
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        cls = options[0] if len(options) == 1 else tp
        node = node.get(part) if isinstance(node, dict) else None
    return None


def _accepts_none(tp: Any) -> bool:
    """Whether a field of type ``tp`` is Optional (``x: int | None``)."""
    return typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp)


__all__ = [  # the section configs are re-exported: one import for a whole run's config
    "DataConfig",
    "ModelConfig",
    "NoiseConfig",
    "RunConfig",
    "SparsityConfig",
    "TrainConfig",
    "from_dict",
    "load_toml",
    "parse_assignment",
    "parse_value",
    "set_values",
    "to_dict",
]
