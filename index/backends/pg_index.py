"""Postgres index versions: a build writes a new version's rows, then switches the current
version in the same transaction, so no server ever reads a half-built index."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from index.backends.pg_connect import Connection
from index.backends.pg_schema import VECTOR_DIM
from index.backends.postgres import PgStore
from index.embedders import Embedder
from index.errors import IndexBusy, SearchIndexError
from index.generations import BuildReport, text_key, texts_to_embed
from index.lexical import TOKENIZER_VERSION, tokenize
from index.store import ChunkRow, DocumentStore, Progress, Splitter

logger = logging.getLogger(__name__)

# Session advisory lock held by the one build that may run against a database.
BUILD_LOCK = 0x62756964  # "buid"
KEEP_VERSIONS = 3
VERSION_COLUMNS = "id, name, embedder, dim, revision, chunks, articles, sentences, tokenizer, avgdl"


def current_version(conn: Connection) -> dict[str, Any] | None:
    """The current version's row (without its lexicon), or None when nothing is built."""
    cur = conn.execute(
        f"SELECT {', '.join('v.' + c.strip() for c in VERSION_COLUMNS.split(','))}"
        " FROM index_current c JOIN index_versions v ON v.id = c.version"
    )
    row = cur.fetchone()
    if row is None:
        return None
    return {c.strip(): value for c, value in zip(VERSION_COLUMNS.split(","), row, strict=True)}


def lexicon_blob(texts: Sequence[str]) -> bytes:
    """Document frequencies of `index.lexical` tokens, for the answerer's term weights."""
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(tokenize(text) or [""]))
    return zlib.compress(json.dumps({"n": len(texts), "df": df}).encode())


def _record_key(embedder: str, row: ChunkRow, embedded: str) -> str:
    chunk, title, url, published, source = row
    record = [embedder, chunk.id, chunk.ordinal, chunk.text, chunk.start, chunk.end]
    record += [chunk.heading, chunk.page, title, url, str(published), source, embedded]
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()


def _pg(store: DocumentStore) -> PgStore:
    if not isinstance(store, PgStore):
        raise TypeError("the Postgres index builds from the Postgres store")
    return store


class PgIndex:
    """Builds and switches index versions in the store's database."""

    def is_stale(self, store: DocumentStore, embedder: Embedder, sentence_vectors: bool) -> bool:
        """True when the current version is missing, behind the store, of another model,
        or lacks the sentence vectors asked for."""
        meta = current_version(_pg(store).db.get())
        if meta is None:
            return True
        return (
            meta["revision"] != store.revision
            or meta["embedder"] != embedder.name
            or meta["tokenizer"] != TOKENIZER_VERSION
            or (sentence_vectors and meta["sentences"] is None)
        )

    def _embed_missing(
        self,
        store: PgStore,
        embedder: Embedder,
        texts: list[str],
        batch: int,
        progress: Progress | None,
    ) -> int:
        """Embed the texts the cache lacks, committing each batch; how many were embedded."""
        keys = [text_key(t).hex() for t in texts]
        cached = store.cached_keys(embedder.name, keys)
        missing = list({k: i for i, k in enumerate(keys) if k not in cached}.values())
        done = len(texts) - len(missing)
        if progress:
            progress(done, len(texts))
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            vectors = embedder.passages([texts[i] for i in part])
            # Committed per batch: a killed build resumes from here on the next run.
            store.cache_vectors(embedder.name, [keys[i] for i in part], vectors)
            done += len(part)
            if progress:
                progress(done, len(texts))
        return len(missing)

    def build(
        self,
        store: DocumentStore,
        embedder: Embedder,
        *,
        progress: Progress | None = None,
        sentences: Splitter | None = None,
        batch: int | None = None,
    ) -> BuildReport:
        """Build a new version from every stored chunk and make it current.

        Vectors come from the embedding cache where it has them. The version's rows and
        the switch commit in one transaction: a kill at any moment leaves the previous
        version current, and the vectors computed before it stay cached.

        Raises:
            IndexBusy: another process is building.
        """
        if embedder.dim != VECTOR_DIM:
            raise SearchIndexError(
                f"the Postgres index holds {VECTOR_DIM}-d vectors; {embedder.name!r} gives "
                f"{embedder.dim}-d"
            )
        started = time.perf_counter()
        pg = _pg(store)
        conn = pg.db.get()
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK,)).fetchone()
        if not row or not row[0]:
            raise IndexBusy("another index build is running; try again when it ends")
        try:
            revision = pg.revision
            previous = current_version(conn)
            rows = pg.chunk_rows()
            texts, split = texts_to_embed(rows, sentences)
            size = batch if batch is not None else int(getattr(embedder, "batch_size", 16))
            embedded = self._embed_missing(pg, embedder, texts + split, size, progress)
            name = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-r{revision}"
            with conn.transaction():
                self._write_version(conn, embedder, name, revision, rows, texts, sentences, split)
            # Statistics for the planner, and a visibility map for index-only BM25 scans.
            conn.execute("VACUUM (ANALYZE) index_postings, index_chunks")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))
        seconds = time.perf_counter() - started
        replaced = None
        if previous is not None and previous["embedder"] != embedder.name:
            replaced = str(previous["embedder"])
        logger.info("built %s: %d chunks, %d embedded, %.1f s", name, len(rows), embedded, seconds)
        return BuildReport(name, len(rows), embedded, seconds, len(split), replaced)

    def _write_version(
        self,
        conn: Connection,
        embedder: Embedder,
        name: str,
        revision: int,
        rows: list[ChunkRow],
        texts: list[str],
        sentences: Splitter | None,
        split: list[str],
    ) -> None:
        """Add the new version's rows, retire the old ones, switch, and drop what no
        version still being read needs; all inside the caller's transaction."""
        found = conn.execute("SELECT version FROM index_current").fetchone()
        previous = found[0] if found else None
        articles = len({c.article_id for c, *_ in rows})
        cur = conn.execute(
            "INSERT INTO index_versions(name, embedder, dim, revision, chunks, articles,"
            " sentences, tokenizer, lexicon) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (
                name,
                embedder.name,
                embedder.dim,
                revision,
                len(rows),
                articles,
                None if sentences is None else len(split),
                TOKENIZER_VERSION,
                lexicon_blob(texts),
            ),
        ).fetchone()
        assert cur is not None
        version = int(cur[0])
        conn.execute(
            "CREATE TEMP TABLE staging (record_key TEXT PRIMARY KEY, embed_key TEXT,"
            " embed_text TEXT, chunk_id TEXT, article_id TEXT, ordinal INTEGER, text TEXT,"
            ' start INTEGER, "end" INTEGER, heading TEXT, page INTEGER, title TEXT, url TEXT,'
            " published DATE, source TEXT) ON COMMIT DROP"
        )
        with conn.cursor().copy("COPY staging FROM STDIN") as copy:
            for row, text in zip(rows, texts, strict=True):
                c, title, url, published, source = row
                key = _record_key(embedder.name, row, text)
                chunk = (c.id, c.article_id, c.ordinal, c.text, c.start, c.end, c.heading, c.page)
                copy.write_row(
                    (key, text_key(text).hex(), text, *chunk, title, url, published, source)
                )
        columns = 'chunk_id, article_id, ordinal, text, start, "end", heading, page, title,'
        columns += " url, published, source"
        conn.execute(
            f"INSERT INTO index_chunks(record_key, added_in, embedding, tsv, doclen, {columns})"
            " SELECT t.record_key, %s, t.vector, t.tsv,"
            " (SELECT COALESCE(SUM(cardinality(u.positions)), 0) FROM unnest(t.tsv) u),"
            f" {', '.join('t.' + c.strip() for c in columns.split(','))}"
            " FROM (SELECT s.*, e.vector, to_tsvector('italian', s.embed_text) AS tsv"
            "  FROM staging s JOIN embeddings e ON e.embedder = %s AND e.key = s.embed_key"
            "  WHERE NOT EXISTS (SELECT 1 FROM index_chunks i"
            "   WHERE i.record_key = s.record_key AND i.removed_in IS NULL)) t",
            (version, embedder.name),
        )
        conn.execute(
            "UPDATE index_chunks i SET removed_in = %s WHERE i.removed_in IS NULL"
            " AND i.added_in < %s"
            " AND NOT EXISTS (SELECT 1 FROM staging s WHERE s.record_key = i.record_key)",
            (version, version),
        )
        conn.execute(
            "INSERT INTO index_postings(lexeme, row_id, tf, doclen, added_in)"
            " SELECT u.lexeme, c.id, cardinality(u.positions), c.doclen, c.added_in"
            " FROM index_chunks c CROSS JOIN LATERAL unnest(c.tsv) u WHERE c.added_in = %s",
            (version,),
        )
        live = f"added_in <= {version} AND (removed_in IS NULL OR removed_in > {version})"
        conn.execute(
            "INSERT INTO index_terms(version, lexeme, df) SELECT %s, word, ndoc FROM ts_stat(%s)",
            (version, f"SELECT tsv FROM index_chunks WHERE {live}"),
        )
        conn.execute(
            "UPDATE index_versions SET avgdl ="
            f" (SELECT COALESCE(AVG(doclen), 0) FROM index_chunks WHERE {live}) WHERE id = %s",
            (version,),
        )
        conn.execute("UPDATE index_current SET version = %s", (version,))
        # Searches still running read the previous version: keep its rows, drop older ones.
        if previous is not None:
            conn.execute(
                "DELETE FROM index_postings WHERE row_id IN (SELECT id FROM index_chunks"
                " WHERE removed_in IS NOT NULL AND removed_in <= %s)",
                (previous,),
            )
            conn.execute(
                "DELETE FROM index_chunks WHERE removed_in IS NOT NULL AND removed_in <= %s",
                (previous,),
            )
        conn.execute(
            "DELETE FROM index_versions WHERE id NOT IN"
            " (SELECT id FROM index_versions ORDER BY id DESC LIMIT %s)",
            (KEEP_VERSIONS,),
        )
        conn.execute(
            "DELETE FROM index_terms t WHERE NOT EXISTS"
            " (SELECT 1 FROM index_versions v WHERE v.id = t.version)"
        )
