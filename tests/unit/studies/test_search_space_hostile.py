"""Hostile search spaces and study storages: each is one ConfigError naming the key or the
URL and what is expected, raised before Optuna or SQLAlchemy sees it. Types in [search]
are checked, never coerced."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from aelab.errors import ConfigError
from aelab.studies.search_space import load_tune_file, parse_search, search_from_table
from aelab.studies.storage import check_storage_url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train.lr=float:1e-4:inf", "high=inf is invalid: expected a finite number"),
        ("train.lr=float:-inf:1", "low=-inf is invalid: expected a finite number"),
        ("train.lr=float:nan:1", "low=nan is invalid: expected a finite number"),
        ("train.lr=float:-1e308:1e308", "a range whose width is a finite number"),
        ("model.latent_dim=int:1:1e30", r"high=1e\+30 is invalid: expected an integer between"),
        ("model.latent_dim=int:-1e19:4", r"low=-1e\+19 is invalid: .*\(int64\)"),
    ],
)
def test_search_flag_bounds_are_finite_and_int64(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_search(text)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (8, r"'model.latent_dim' must be a table with a type, found 8"),
        ({"type": "categorical", "choices": 3}, r"choices=3 is invalid: expected a list"),
        ({"type": "categorical", "choices": "none"}, r"choices='none' is invalid: .*letters"),
        ({"type": "categorical", "choices": [{"a": 1}]}, "non-empty list of strings, numbers"),
        ({"type": "categorical", "choices": []}, "non-empty list"),
        ({"type": "int", "low": 1, "high": 8, "log": "false"}, "log='false' is invalid: .*boolean"),
        ({"type": "int", "low": True, "high": 8}, "low=True is invalid: expected a number"),
        ({"type": "int", "low": 1, "high": "8"}, "high='8' is invalid: expected a number"),
        ({"type": "int", "low": 1.5, "high": 8}, "low=1.5 is invalid: expected an integer"),
        ({"type": 3, "low": 1, "high": 8}, "type=3 is invalid: expected a string"),
    ],
)
def test_search_table_types_are_checked_not_coerced(entry, message):
    with pytest.raises(ConfigError, match=message):
        search_from_table({"model.latent_dim": entry})


def test_search_that_is_not_a_table(tmp_path: Path):
    path = tmp_path / "tune.toml"
    path.write_text('search = "model.latent_dim"\n')
    with pytest.raises(ConfigError, match=r"\[search\] must be a table of KEY"):
        load_tune_file(path)


def test_a_boolean_log_and_a_list_of_one_string_still_work():
    a, b = search_from_table(
        {
            "train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "model.sparsity.kind": {"type": "categorical", "choices": ["none"]},
        }
    )
    assert a.log is True and b.choices == ("none",)


# --------------------------------------------------------------------------- storages


def _study_db(path: Path) -> Path:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.create_study(storage=f"sqlite:///{path}", study_name="s")
    return path


def _truncated(tmp: Path) -> str:
    data = _study_db(tmp / "whole.db").read_bytes()
    (tmp / "t.db").write_bytes(data[: len(data) // 3])
    return f"sqlite:///{tmp / 't.db'}"


def _random_bytes(tmp: Path) -> str:
    (tmp / "r.db").write_bytes(os.urandom(4096))
    return f"sqlite:///{tmp / 'r.db'}"


def _header_only(tmp: Path) -> str:
    (tmp / "h.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
    return f"sqlite:///{tmp / 'h.db'}"


STORAGES = {
    "not a URL": (lambda tmp: "study.db", "is not a database URL: expected sqlite:///"),
    "unknown dialect": (lambda tmp: "sqlit:///x.db", r"unknown database 'sqlit'.*'sqlite'\?"),
    "unknown driver": (
        lambda tmp: "postgresql+nodriver://u@127.0.0.1:1/db",
        r"unknown driver 'postgresql\+nodriver' of postgresql; leave the '\+DRIVER' out",
    ),
    "missing folder": (
        lambda tmp: f"sqlite:///{tmp}/no/such/study.db",
        r"the folder .*/no/such does not exist; create it \(mkdir -p",
    ),
    "folder, not file": (lambda tmp: f"sqlite:///{tmp}", "is not a file; expected an SQLite"),
    "random bytes": (_random_bytes, r"not an intact SQLite database \(its first bytes"),
    "header only": (_header_only, r"not an intact SQLite database \("),
    "truncated": (_truncated, r"not an intact SQLite database \(database disk image is malf"),
}


@pytest.mark.parametrize("case", list(STORAGES))
def test_a_bad_storage_is_one_line_naming_the_url(case, tmp_path: Path):
    make, message = STORAGES[case]
    url = make(tmp_path)
    with pytest.raises(ConfigError, match=message) as info:
        check_storage_url(url)
    text = str(info.value)
    assert "\n" not in text and f"study storage {url!r}" in text


def test_a_missing_driver_names_the_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name.partition(".")[0] in ("psycopg", "psycopg2"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(ConfigError, match=r"needs the Python module psycopg2?, .*pip install"):
        check_storage_url("postgresql://u@127.0.0.1:1/db")


def test_a_read_only_database_is_refused(tmp_path: Path, monkeypatch):
    db = _study_db(tmp_path / "ro.db")
    real_access = os.access
    # root ignores file modes, so the file's permission is what os.access reports
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if Path(p) == db and mode & os.W_OK else real_access(p, mode),
    )
    with pytest.raises(ConfigError, match="is read-only"):
        check_storage_url(f"sqlite:///{db}")


def test_good_storages_pass(tmp_path: Path):
    check_storage_url(f"sqlite:///{_study_db(tmp_path / 'good.db')}")
    check_storage_url(f"sqlite:///{tmp_path / 'new.db'}")  # created on first use
    (tmp_path / "empty.db").touch()
    check_storage_url(f"sqlite:///{tmp_path / 'empty.db'}")
    assert sqlite3.connect(tmp_path / "good.db").execute("PRAGMA quick_check").fetchone() == ("ok",)
