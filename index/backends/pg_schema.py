"""Versioned Postgres schema: the migrations `clusterchat migrate` applies, and the check
every process makes before it uses a database."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from index.errors import SearchIndexError

logger = logging.getLogger(__name__)

# The dimension of the HNSW-indexed vectors (multilingual-e5-small and MiniLM: 384).
VECTOR_DIM = 384

# Migration n (1-based) brings the schema from version n-1 to n; never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE articles (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, url TEXT, title TEXT NOT NULL,
    published DATE, text TEXT NOT NULL, content_hash TEXT NOT NULL,
    sections JSONB NOT NULL DEFAULT '[]', pages JSONB NOT NULL DEFAULT '[]',
    chunking TEXT NOT NULL DEFAULT '', file TEXT, updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX articles_file ON articles(file);
CREATE TABLE chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    heading TEXT, page INTEGER, text TEXT NOT NULL
);
CREATE INDEX chunks_article ON chunks(article_id, ordinal);
CREATE TABLE files (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
CREATE TABLE embeddings (
    embedder TEXT NOT NULL, key TEXT NOT NULL, vector vector NOT NULL,
    PRIMARY KEY (embedder, key)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE facts (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    version TEXT NOT NULL, section TEXT, data JSONB NOT NULL
);
CREATE TABLE fact_people (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (article_id, ordinal)
);
CREATE TABLE index_versions (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, embedder TEXT NOT NULL,
    dim INTEGER NOT NULL, revision BIGINT NOT NULL, chunks INTEGER NOT NULL,
    articles INTEGER NOT NULL, sentences INTEGER, tokenizer TEXT NOT NULL,
    lexicon BYTEA NOT NULL, avgdl REAL NOT NULL DEFAULT 0,
    created TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- BM25 statistics of each version: in how many of its chunks each lexeme occurs.
CREATE TABLE index_terms (
    version BIGINT NOT NULL, lexeme TEXT NOT NULL, df INTEGER NOT NULL,
    PRIMARY KEY (version, lexeme)
);
-- One row: the version every search reads. Switched in the build's last statement.
CREATE TABLE index_current (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT REFERENCES index_versions(id)
);
INSERT INTO index_current(one, version) VALUES (TRUE, NULL);
-- A row serves the versions added_in <= v < removed_in: a build adds and retires rows
-- under its own new version number, invisible until index_current names it.
CREATE TABLE index_chunks (
    id BIGSERIAL PRIMARY KEY, record_key TEXT NOT NULL,
    added_in BIGINT NOT NULL, removed_in BIGINT,
    chunk_id TEXT NOT NULL, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    heading TEXT, page INTEGER, title TEXT NOT NULL, url TEXT, published DATE,
    source TEXT NOT NULL, embedding vector({VECTOR_DIM}) NOT NULL, tsv tsvector NOT NULL,
    doclen INTEGER NOT NULL  -- lexemes in tsv, repeats counted (BM25's document length)
);
CREATE INDEX index_chunks_live ON index_chunks(added_in, removed_in);
CREATE INDEX index_chunks_key ON index_chunks(record_key) WHERE removed_in IS NULL;
CREATE INDEX index_chunks_hnsw ON index_chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX index_chunks_tsv ON index_chunks USING gin (tsv);
-- The lexemes of each row with their counts: BM25 reads these instead of unpacking the
-- tsvector of every matching row.
CREATE TABLE index_postings (
    lexeme TEXT NOT NULL, row_id BIGINT NOT NULL, tf INTEGER NOT NULL,
    doclen INTEGER NOT NULL, added_in BIGINT NOT NULL,
    PRIMARY KEY (lexeme, row_id) INCLUDE (tf, doclen, added_in)
);
CREATE INDEX index_postings_row ON index_postings(row_id);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,
    counts JSONB NOT NULL DEFAULT '{{}}', errors JSONB NOT NULL DEFAULT '[]',
    owner TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX jobs_state ON jobs(state, created_at);
CREATE TABLE feedback (
    id BIGSERIAL PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), comment TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
""",
)
SCHEMA_VERSION = len(MIGRATIONS)
# Held while migrating, so that two `clusterchat migrate` runs apply each step once.
MIGRATE_LOCK = 0x636C7573  # "clus"


class SchemaMismatch(SearchIndexError):
    """The database schema is older or newer than this version of ClusterChat."""


def schema_version(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The version recorded in the database (0 for one that was never migrated)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(found[0]) if found else 0


def check_schema(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Raise SchemaMismatch unless the database is at `SCHEMA_VERSION`."""
    found = schema_version(conn)
    if found < SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the database schema is at version {found}, this ClusterChat needs "
            f"{SCHEMA_VERSION}: run `clusterchat migrate` first"
        )
    if found > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the database schema is at version {found}, newer than this ClusterChat "
            f"({SCHEMA_VERSION}): upgrade ClusterChat"
        )


def migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> list[int]:
    """Apply the missing migrations, each in its own transaction; the versions applied.

    Raises:
        SchemaMismatch: the database is newer than this ClusterChat.
    """
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            check_schema(conn)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            with conn.transaction():
                conn.execute(MIGRATIONS[version - 1].encode())
                conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))
            applied.append(version)
            logger.info("applied schema migration %d", version)
    return applied
