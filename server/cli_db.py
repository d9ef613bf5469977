"""Database commands: `clusterchat migrate` and `clusterchat copy-data`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer

from index.backends.embedded import DocStore
from index.backends.pg_connect import connect
from index.backends.pg_copy import CacheOnly, copy_store
from index.backends.pg_index import PgIndex
from index.backends.pg_schema import SCHEMA_VERSION, SchemaMismatch, migrate, schema_version
from index.backends.postgres import PgStore
from index.errors import SearchIndexError
from index.generations import generation_meta
from server.pipeline import update_index

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://… [default: $CLUSTERCHAT_DATABASE_URL]",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the database commands to the `clusterchat` app."""
    app.command(name="migrate")(migrate_command)
    app.command(name="copy-data")(copy_data)


def _url(given: str | None) -> str:
    from server.cli import fail, settings_for

    if given:
        if not given.startswith(("postgresql://", "postgres://")):
            fail("use a postgresql://user:password@host:port/database URL")
        return given
    settings = settings_for(None)
    if settings.database_url is None:
        fail("no database: pass --database-url or set CLUSTERCHAT_DATABASE_URL")
    assert settings.database_url is not None
    return settings.database_url.get_secret_value()


def migrate_command(database_url: DatabaseUrl = None) -> None:
    """Bring the Postgres schema to this version of ClusterChat (versioned migrations)."""
    from server.cli import console, fail

    url = _url(database_url)
    try:
        with connect(url) as conn:
            before = schema_version(conn)
            applied = migrate(conn)
    except (psycopg.Error, SchemaMismatch) as exc:
        fail(" ".join(str(exc).split()))
    if applied:
        console.print(f"schema migrated from version {before} to {SCHEMA_VERSION}", highlight=False)
    else:
        console.print(f"schema already at version {SCHEMA_VERSION}", highlight=False)


def copy_data(
    source: Annotated[Path, typer.Option("--from", help="An embedded data folder.")],
    target: Annotated[str, typer.Option("--to", help="postgresql://… (migrated, empty).")],
) -> None:
    """Copy an embedded data folder into Postgres with its vectors (nothing re-embedded),
    build the index there, and check the counts: one line per table, exit 2 on a mismatch."""
    from server.cli import console, fail

    url = _url(target)
    db_path = source / "clusterchat.sqlite3"
    if not db_path.is_file():
        fail(f"{source}: no clusterchat.sqlite3 in it (not a ClusterChat data folder)")
    DocStore(db_path).close()  # brings an older data folder's tables up to date
    meta = generation_meta(source / "index")
    try:
        store = PgStore(url)
    except (psycopg.Error, SchemaMismatch) as exc:
        fail(" ".join(str(exc).split()))
    try:
        counts = copy_store(db_path, store)
        report = None
        if meta is not None:
            embedder = CacheOnly(str(meta["embedder"]), int(str(meta["dim"])))
            report = update_index(
                store, embedder, PgIndex(), sentence_vectors=meta.get("sentences") is not None
            )
    except (psycopg.Error, SearchIndexError) as exc:
        fail(" ".join(str(exc).split()))
    finally:
        store.close()
    for count in counts:
        mark = "ok" if count.ok else "MISMATCH"
        console.print(f"{count.table}: {count.source} -> {count.copied} {mark}", highlight=False)
    if report is not None:
        console.print(
            f"index {report.generation}: {report.chunks} chunks, {report.sentences} sentences, "
            f"{report.embedded} embedded",
            highlight=False,
        )
    if not all(c.ok for c in counts):
        fail("the copy does not hold every row")
