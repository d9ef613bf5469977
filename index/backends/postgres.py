"""The Postgres backend's document store: articles, chunks, files, embedding cache, facts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from index import facts_store
from index.backends import pg_facts
from index.backends.pg_connect import Connection, Connections
from index.docstore import FORGOTTEN, ArticleInfo
from index.errors import NotFound
from index.types import Vectors
from ingest.facts.types import Facts
from ingest.types import Article, Chunk, Section

# Rows per statement when reading the embedding cache.
BATCH = 1000


class PgStore:
    """Articles and chunks in Postgres; every write is one transaction, as in `DocStore`.

    Several processes on several machines share it: a change bumps `revision`, which
    each server compares with the serving index version.
    """

    def __init__(self, url: str, *, check: bool = True) -> None:
        self.url = url
        self.db = Connections(url, check=check)
        self._facts_cache: tuple[tuple[str, str], dict[str, Facts | None]] = (("", ""), {})

    def close(self) -> None:
        """Close every thread's connection."""
        self.db.close()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.db.get().execute(sql, args).fetchone()

    # -- revision -------------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """A counter that grows with every change to articles or chunks."""
        row = self._one("SELECT value FROM meta WHERE key='revision'")
        return int(row[0]) if row else 0

    @staticmethod
    def bump(conn: Connection, key: str = "revision") -> None:
        """Add one to a counter of the meta table, inside the caller's transaction."""
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (%s, 1)"
            " ON CONFLICT (key) DO UPDATE SET value = meta.value + 1",
            (key,),
        )

    # -- files ----------------------------------------------------------------------------
    def fingerprint(self, path: str) -> str | None:
        """The fingerprint recorded when `path` was last ingested."""
        row = self._one("SELECT fingerprint FROM files WHERE path=%s", (path,))
        return str(row[0]) if row else None

    def article_count_for_file(self, path: str) -> int:
        """How many stored articles came from `path`."""
        row = self._one("SELECT COUNT(*) FROM articles WHERE file=%s", (path,))
        return int(row[0]) if row else 0

    def file_paths(self) -> list[str]:
        """Every source file path that produced stored articles."""
        return [r[0] for r in self.db.get().execute("SELECT path FROM files ORDER BY path")]

    def articles_of_file(self, path: str) -> list[tuple[str, str]]:
        """(id, title) of each stored article that came from `path`, in id order."""
        rows = self.db.get().execute(
            "SELECT id, title FROM articles WHERE file=%s ORDER BY id", (path,)
        )
        return [(r[0], r[1]) for r in rows]

    def event_dates(self) -> dict[str, tuple[date, ...]]:
        """Event dates per article: not yet kept on Postgres (event-date filters are embedded
        only), so none."""
        return {}

    def duplicates(self) -> dict[str, str]:
        """Near-duplicate groups: not yet computed on Postgres, so none."""
        return {}

    # -- articles -------------------------------------------------------------------------
    def put_file(
        self,
        path: str,
        fingerprint: str,
        articles: Sequence[tuple[Article, Sequence[Chunk]]],
        chunking: str = "",
        *,
        facts: Mapping[str, Facts] | None = None,
        keep_missing: bool = False,
    ) -> dict[str, str]:
        """Store the articles parsed from one file, replacing changed ones whole
        (`index.docstore.DocStore.put_file` says how)."""
        outcome: dict[str, str] = {}
        with self.db.transaction() as conn:
            # Writers of one file queue here, as SQLite's single writer makes them do.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (path,))
            rows = conn.execute("SELECT id FROM articles WHERE file=%s", (path,))
            before = {r[0] for r in rows}
            for article, chunks in articles:
                outcome[article.id] = self._put(conn, article, chunks, path, chunking)
            for gone in set() if keep_missing else before - outcome.keys():
                conn.execute("DELETE FROM articles WHERE id=%s", (gone,))
                outcome[gone] = "removed"
            conn.execute(
                "INSERT INTO files(path, fingerprint) VALUES (%s, %s)"
                " ON CONFLICT (path) DO UPDATE SET fingerprint = EXCLUDED.fingerprint",
                (path, fingerprint),
            )
            for article, _chunks in articles:
                found = (facts or {}).get(article.id)
                if found is not None and (
                    outcome[article.id] != "unchanged"
                    or pg_facts.stored_version(conn, article.id) != found.version
                ):
                    pg_facts.write(conn, found, article.text)
            if any(v != "unchanged" for v in outcome.values()):
                self.bump(conn)
        return outcome

    def _put(
        self, conn: Connection, article: Article, chunks: Sequence[Chunk], path: str, chunking: str
    ) -> str:
        row = conn.execute(
            "SELECT content_hash, chunking FROM articles WHERE id=%s FOR UPDATE", (article.id,)
        ).fetchone()
        if row and row[0] == article.content_hash and row[1] == chunking:
            conn.execute(
                "UPDATE articles SET file=%s, source=%s WHERE id=%s",
                (path, article.source, article.id),
            )
            return "unchanged"
        conn.execute("DELETE FROM articles WHERE id=%s", (article.id,))
        conn.execute(
            "INSERT INTO articles(id, source, url, title, published, text, content_hash,"
            " sections, pages, chunking, file) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                article.id,
                article.source,
                article.url,
                article.title,
                article.published,
                article.text,
                article.content_hash,
                json.dumps([[s.start, s.title] for s in article.sections]),
                json.dumps(list(article.pages)),
                chunking,
                path,
            ),
        )
        with conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO chunks(id, article_id, ordinal, start, "end", heading, page, text)'
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                [
                    (c.id, c.article_id, c.ordinal, c.start, c.end, c.heading, c.page, c.text)
                    for c in chunks
                ],
            )
        return "updated" if row else "added"

    def delete(self, article_id: str) -> None:
        """Remove one article and its chunks, and forget its file's fingerprint.

        Raises:
            NotFound: no article has that id.
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                "DELETE FROM articles WHERE id=%s RETURNING file", (article_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no article with id {article_id!r}")
            if row[0] is not None:
                conn.execute("UPDATE files SET fingerprint=%s WHERE path=%s", (FORGOTTEN, row[0]))
            self.bump(conn)

    def forget_file(self, path: str) -> list[str]:
        """Remove a source file's record and every article it produced."""
        with self.db.transaction() as conn:
            rows = conn.execute("DELETE FROM articles WHERE file=%s RETURNING id", (path,))
            ids = [r[0] for r in rows]
            conn.execute("DELETE FROM files WHERE path=%s", (path,))
            if ids:
                self.bump(conn)
        return ids

    def get(self, article_id: str) -> Article:
        """One stored article, text included.

        Raises:
            NotFound: no article has that id.
        """
        row = self._one(
            "SELECT id, source, title, text, url, published, content_hash, sections, pages"
            " FROM articles WHERE id=%s",
            (article_id,),
        )
        if row is None:
            raise NotFound(f"no article with id {article_id!r}")
        return Article(
            id=row[0],
            source=row[1],
            title=row[2],
            text=row[3],
            url=row[4],
            published=row[5],
            content_hash=row[6],
            sections=tuple(Section(s, t) for s, t in row[7]),
            pages=tuple(row[8]),
        )

    def chunks(self, article_id: str) -> tuple[Chunk, ...]:
        """One article's stored chunks, in order (none for an unknown id)."""
        rows = self.db.get().execute(
            'SELECT id, article_id, ordinal, text, start, "end", heading, page FROM chunks'
            " WHERE article_id=%s ORDER BY ordinal",
            (article_id,),
        )
        return tuple(Chunk(*r) for r in rows)

    def articles(self) -> list[ArticleInfo]:
        """Every stored article, newest first (undated last, as in SQLite)."""
        rows = self.db.get().execute(
            "SELECT a.id, a.title, a.url, a.published, a.source, COUNT(c.id) FROM articles a"
            " LEFT JOIN chunks c ON c.article_id = a.id GROUP BY a.id"
            " ORDER BY a.published DESC NULLS LAST, a.title"
        )
        return [ArticleInfo(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) stored, read in one snapshot."""
        row = self._one("SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM chunks)")
        assert row is not None
        return int(row[0]), int(row[1])

    def chunk_rows(self) -> list[tuple[Chunk, str, str | None, date | None, str]]:
        """Every chunk with its article's title, url, date and source, in a stable order."""
        rows = self.db.get().execute(
            'SELECT c.id, c.article_id, c.ordinal, c.text, c.start, c."end", c.heading, c.page,'
            " a.title, a.url, a.published, a.source FROM chunks c"
            " JOIN articles a ON a.id = c.article_id ORDER BY c.article_id, c.ordinal"
        )
        return [(Chunk(*r[:8]), r[8], r[9], r[10], r[11]) for r in rows]

    # -- embedding cache ------------------------------------------------------------------
    def cached_vectors(self, embedder: str, keys: Sequence[str]) -> dict[str, Vectors]:
        """The cached vectors among `keys` for this embedder."""
        found: dict[str, Vectors] = {}
        conn = self.db.get()
        for i in range(0, len(keys), BATCH):
            rows = conn.execute(
                "SELECT key, vector FROM embeddings WHERE embedder=%s AND key = ANY(%s)",
                (embedder, list(keys[i : i + BATCH])),
                binary=True,  # vectors as float32 bytes, not text to parse
            )
            for key, vector in rows:
                found[key] = vector.to_numpy().astype(np.float32, copy=False)
        return found

    def cached_keys(self, embedder: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` have a cached vector (the vectors stay in the database)."""
        found: set[str] = set()
        conn = self.db.get()
        for i in range(0, len(keys), BATCH * 10):
            rows = conn.execute(
                "SELECT key FROM embeddings WHERE embedder=%s AND key = ANY(%s)",
                (embedder, list(keys[i : i + BATCH * 10])),
            )
            found.update(r[0] for r in rows)
        return found

    def cache_vectors(self, embedder: str, keys: Sequence[str], vectors: Vectors) -> None:
        """Remember vectors by content key, committed at once so a crash keeps them."""
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embeddings(embedder, key, vector) VALUES (%s, %s, %b)"
                " ON CONFLICT (embedder, key) DO UPDATE SET vector = EXCLUDED.vector",
                [
                    (embedder, k, np.ascontiguousarray(v, dtype=np.float32))
                    for k, v in zip(keys, vectors, strict=True)
                ],
            )

    # -- facts ----------------------------------------------------------------------------
    def facts(self, article_ids: Iterable[str]) -> dict[str, Facts]:
        """The stored facts of those of `article_ids` that have some.

        Kept in memory until any article or facts change (one small query checks that),
        in this and every other process.
        """
        ids = facts_store.ids_of(article_ids)
        conn = self.db.get()
        now = pg_facts.stamp(conn)
        stamp, cache = self._facts_cache
        if stamp != now:
            cache = {}
            self._facts_cache = (now, cache)
        missing = [i for i in ids if i not in cache]
        if missing:
            found = pg_facts.read(conn, missing)
            for article_id in missing:
                cache[article_id] = found.get(article_id)
        return {i: f for i in ids if (f := cache.get(i)) is not None}

    def put_facts(self, facts: Facts, content_hash: str | None = None) -> bool:
        """Store (or replace) one article's facts, only while it still has `content_hash`.

        Raises:
            ValueError: a span of `facts` lies outside the article's text.
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT text, content_hash FROM articles WHERE id=%s FOR UPDATE",
                (facts.article_id,),
            ).fetchone()
            if row is None or (content_hash is not None and row[1] != content_hash):
                return False
            pg_facts.write(conn, facts, row[0])
        return True

    def stale_facts(self, version: str) -> list[str]:
        """Ids of the articles whose facts are missing or of another extractor version."""
        return pg_facts.stale(self.db.get(), version)

    def find_people(self, name: str) -> list[facts_store.PersonMention]:
        """Every person named in the stored facts whose name contains `name`."""
        return pg_facts.find_people(self.db.get(), name)
