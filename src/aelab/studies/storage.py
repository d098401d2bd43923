"""The study storage of ``aelab tune``: an SQLAlchemy URL checked before Optuna opens it.

Optuna hands SQLAlchemy's and the database driver's failures through as tracebacks (an
unknown dialect, a driver that is not installed, an SQLite file in a missing folder, a
file that is not a database); :func:`check_storage_url` names the URL and what works
before anything is opened, and :func:`storage_error` turns what opening still raises
into one line.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from aelab.errors import ConfigError, did_you_mean, one_line

EXAMPLES = "sqlite:///PATH/study.db or postgresql://USER@HOST:5432/DB"
DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
# the pip package of a database driver's module (as its ImportError names it)
PACKAGES = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
}
SQLITE_HEADER = b"SQLite format 3\x00"


def check_storage_url(url: str) -> None:
    """Raise a one-line ConfigError unless ``url`` names a dialect, a driver that imports
    and (for SQLite) a database file that can be created or opened and written."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    where = f"study storage {url!r}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{where} is not a database URL: expected {EXAMPLES}.") from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        name, backend = parsed.drivername, parsed.get_backend_name()
        if backend in DIALECTS:  # a known database, an unknown driver after the '+'
            raise ConfigError(
                f"{where}: unknown driver {name!r} of {backend}; leave the '+DRIVER' out "
                f"(e.g. {backend}://...) or name one SQLAlchemy supports."
            ) from None
        raise ConfigError(
            f"{where}: unknown database {name!r}; expected one of {', '.join(DIALECTS)} "
            f"(e.g. {EXAMPLES}).{did_you_mean(name, DIALECTS)}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        module = (exc.name or "").partition(".")[0]
        install = f"pip install '{PACKAGES.get(module, module)}'" if module else "install it"
        raise ConfigError(
            f"{where}: {parsed.drivername} needs the Python module {module or '?'}, which is "
            f"not installed; {install}, or use sqlite:///PATH/study.db."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        check_sqlite_file(url, parsed.database, uri=bool(parsed.query.get("uri")))


def check_sqlite_file(url: str, database: str | None, *, uri: bool = False) -> None:
    """The SQLite file of ``url``: its folder exists and is writable; an existing file is
    an intact, writable SQLite database (an empty file is a new one)."""
    if not database or database == ":memory:" or uri:
        return
    where = f"study storage {url!r}"
    path = Path(database).expanduser()
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(
            f"{where}: the folder {folder} does not exist; create it "
            f"(mkdir -p {folder}) or point the URL at an existing folder."
        )
    if not path.exists():
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"{where}: cannot create {path}: {folder} is not writable.")
        return
    if not path.is_file():
        raise ConfigError(f"{where}: {path} is not a file; expected an SQLite database.")
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(folder, os.W_OK):
        raise ConfigError(
            f"{where}: {path} is read-only (a study writes its database and a journal beside "
            "it); make the file and its folder writable, or copy it to a writable folder."
        )
    damaged = (
        f"{where}: {path} is not an intact SQLite database ({{}}); restore it from a "
        "backup, or choose another --out or --storage (a new study starts there)."
    )
    with open(path, "rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if not header:
        return
    if header != SQLITE_HEADER:
        raise ConfigError(damaged.format("its first bytes are not SQLite's header"))
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(damaged.format(exc)) from None
    if verdict is None or verdict[0] != "ok":
        raise ConfigError(damaged.format(verdict[0] if verdict else "no answer to quick_check"))


def storage_error(url: str, exc: BaseException) -> ConfigError:
    """What opening ``url`` raised (SQLAlchemy, Optuna or the driver), as one line."""
    reason = getattr(exc, "orig", None) or exc
    return ConfigError(
        f"study storage {url!r} could not be opened ({type(reason).__name__}: "
        f"{one_line(reason, 200)}); "
        f"check that the database runs and is reachable, or use {EXAMPLES}."
    )


__all__ = ["check_sqlite_file", "check_storage_url", "storage_error"]
