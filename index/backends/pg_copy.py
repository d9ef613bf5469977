"""Copy an embedded data folder (SQLite store and its embedding cache) into Postgres, then
build the index version there from the copied vectors: nothing is embedded again."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.backends.pg_connect import Connection
from index.backends.postgres import PgStore
from index.errors import SearchIndexError
from index.types import Vectors

logger = logging.getLogger(__name__)

# (table, columns) copied as they are; JSON text goes into JSONB, ISO dates into DATE.
TABLES: tuple[tuple[str, str], ...] = (
    (
        "articles",
        "id, source, url, title, published, text, content_hash, sections, pages, chunking, file",
    ),
    ("chunks", 'id, article_id, ordinal, start, "end", heading, page, text'),
    ("files", "path, fingerprint"),
    ("facts", "article_id, version, section, data"),
    ("fact_people", "article_id, ordinal, key"),
    ("feedback", "question, answer, rating, comment"),
)
COUNTERS = ("revision", "facts_revision")
BATCH = 2000


class CacheOnly:
    """An embedder that has every vector in the cache and computes none.

    Building the copied index with it proves the copy embeds nothing: a vector missing
    from the cache stops the build with an error instead of loading a model.
    """

    def __init__(self, name: str, dim: int) -> None:
        self._name, self._dim = name, dim

    @property
    def name(self) -> str:
        """The embedder that computed the cached vectors."""
        return self._name

    @property
    def dim(self) -> int:
        """Their dimension."""
        return self._dim

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Never embeds: raises for the texts the cache lacks."""
        raise SearchIndexError(
            f"{len(texts)} vectors are missing from the data folder's embedding cache: "
            "run `clusterchat reindex` on it first, then copy again"
        )

    def query(self, text: str) -> Vectors:
        """Never embeds."""
        raise SearchIndexError(f"copying data embeds no query ({len(text)} characters)")


@dataclass(frozen=True, slots=True)
class Count:
    """One table's rows in the data folder and in the database after the copy."""

    table: str
    source: int
    copied: int

    @property
    def ok(self) -> bool:
        """True when both sides hold the same number of rows."""
        return self.source == self.copied


def _rows(db: sqlite3.Connection, table: str, columns: str) -> Iterator[tuple[Any, ...]]:
    cursor = db.execute(f"SELECT {columns} FROM {table}")
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _exists(db: sqlite3.Connection, table: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
    return row.fetchone() is not None


def copy_store(source: Path, target: PgStore) -> list[Count]:
    """Copy every table of the SQLite store at `source` into `target` in one transaction.

    Raises:
        SearchIndexError: `target` already holds articles or vectors.
    """
    db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        with target.db.transaction() as conn:
            held = conn.execute(
                "SELECT (SELECT COUNT(*) FROM articles) + (SELECT COUNT(*) FROM embeddings)"
            ).fetchone()
            if held and held[0]:
                raise SearchIndexError("the database already holds articles or vectors")
            for table, columns in TABLES:
                if not _exists(db, table):
                    continue
                with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in _rows(db, table, columns):
                        copy.write_row(row)
            for key in COUNTERS:
                found = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
                if found:
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES (%s, %s)", (key, int(found[0]))
                    )
            _copy_vectors(db, conn)
        # Counted after the commit: what another server will read.
        conn = target.db.get()
        counts = [_count(db, conn, t) for t, _ in (*TABLES, ("embeddings", ""))]
    finally:
        db.close()
    return counts


def _copy_vectors(db: sqlite3.Connection, conn: Connection) -> None:
    with conn.cursor().copy(
        "COPY embeddings (embedder, key, vector) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "text", "vector"])
        for embedder, key, blob in _rows(db, "embeddings", "embedder, key, vector"):
            copy.write_row((embedder, key, np.frombuffer(blob, dtype=np.float32)))


def _count(db: sqlite3.Connection, conn: Connection, table: str) -> Count:
    source = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if _exists(db, table) else 0
    row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return Count(table, int(source), int(row[0]) if row else 0)
