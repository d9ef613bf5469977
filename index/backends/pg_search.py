"""Hybrid search over the current Postgres index version: pgvector HNSW (cosine) for
the dense ranking, full-text search (`italian`) for the lexical one, fused as embedded."""

from __future__ import annotations

import json
import logging
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from index.backends.pg_index import current_version
from index.backends.postgres import PgStore
from index.embedders import Embedder
from index.errors import EmbedderMismatch, IndexNotBuilt
from index.generations import text_key
from index.lexical import TOKENIZER_VERSION
from index.search import MODES, RECENT_QUERIES, Fusion, Mode
from index.types import ArticleRef, Filters, Hit
from ingest.types import Chunk

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
LIVE = "added_in <= %(v)s AND (removed_in IS NULL OR removed_in > %(v)s)"
HIT_COLUMNS = 'id, chunk_id, article_id, ordinal, text, start, "end", heading, page, title, url,'
HIT_COLUMNS += " published, source"
K1, B = 1.2, 0.75
# Okapi BM25 with Lucene's idf, as bm25s computes it, over Postgres' `italian` lexemes:
# term and document frequencies from `index_postings` and `index_terms`.
BM25 = f"""
WITH q AS MATERIALIZED (
    SELECT t.lexeme, ln(1 + (%(size)s::float8 - t.df + 0.5) / (t.df + 0.5)) AS idf
    FROM index_terms t WHERE t.version = %(v)s
    AND t.lexeme = ANY(tsvector_to_array(to_tsvector('italian', %(q)s)))
)
SELECT p.row_id, SUM(q.idf * p.tf * {K1 + 1} / (p.tf
    + {K1} * (1 - {B} + {B} * p.doclen / %(avgdl)s::float8))) AS score
FROM q JOIN index_postings p ON p.lexeme = q.lexeme"""
# Unfiltered, the postings alone say which rows the version holds: those it or an earlier
# version added, less the few it retired (read once per version).
BM25_ALL = BM25 + " WHERE p.added_in <= %(v)s AND p.row_id <> ALL(%(retired)s)"
# Filtered, each candidate's article date and source are read from its row.
BM25_FILTERED = (
    BM25 + " JOIN index_chunks c ON c.id = p.row_id"
    " WHERE c.added_in <= %(v)s AND (c.removed_in IS NULL OR c.removed_in > %(v)s)"
)


class Lexicon:
    """Document frequencies of one version's tokens, as BM25 weighs them."""

    def __init__(self, blob: bytes) -> None:
        data = json.loads(zlib.decompress(blob))
        self.size: int = data["n"]
        self._df: dict[str, int] = data["df"]

    def idf(self, tokens: Sequence[str]) -> list[float]:
        """Inverse document frequency of each token (unknown tokens get the maximum)."""
        return [
            float(np.log(1 + (self.size - (df := self._df.get(t, 0)) + 0.5) / (df + 0.5)))
            for t in tokens
        ]


def _hit(row: Sequence[Any]) -> Hit:
    chunk = Chunk(*row[1:9])
    return Hit(chunk, 0.0, row[9], row[10], row[11], row[12])


class PgVersion:
    """One index version, read from the database on demand."""

    def __init__(self, store: PgStore, meta: dict[str, Any]) -> None:
        self._store = store
        self.meta = meta
        self.id: int = meta["id"]
        self.name: str = meta["name"]
        self.size: int = meta["chunks"]
        self.articles: int = meta["articles"]
        self.has_sentences = meta["sentences"] is not None

    @cached_property
    def hits(self) -> list[Hit]:
        """Every chunk of this version (score 0), in article order."""
        rows = self._store.db.get().execute(
            f"SELECT {HIT_COLUMNS} FROM index_chunks WHERE {LIVE} ORDER BY article_id, ordinal",
            {"v": self.id},
        )
        return [_hit(r) for r in rows]

    @cached_property
    def retired(self) -> list[int]:
        """Rows still stored that this version retired (searches of the previous version
        may still be reading them)."""
        rows = self._store.db.get().execute(
            "SELECT id FROM index_chunks WHERE removed_in <= %s", (self.id,)
        )
        return [int(r[0]) for r in rows]

    @cached_property
    def lexical(self) -> Lexicon | None:
        """The version's term statistics (None for an empty index)."""
        row = (
            self._store.db.get()
            .execute("SELECT lexicon FROM index_versions WHERE id=%s", (self.id,))
            .fetchone()
        )
        return Lexicon(row[0]) if row and self.size else None


def _filters_sql(filters: Filters | None) -> tuple[str, dict[str, Any]]:
    if filters is None or not filters.active:
        return "", {}
    parts: list[str] = []
    args: dict[str, Any] = {}
    if filters.since:
        parts.append("published >= %(since)s")
        args["since"] = filters.since
    if filters.until:
        parts.append("published <= %(until)s")
        args["until"] = filters.until
    if filters.source:
        parts.append("strpos(lower(source || E'\\n' || coalesce(url, '')), %(needle)s) > 0")
        args["needle"] = filters.source.lower()
    return " AND " + " AND ".join(parts), args


class PgSearcher:
    """Answers searches from the current version; each search reads the pointer row, so
    a version built by any process on any machine serves the next search."""

    def __init__(self, store: PgStore, embedder: Embedder, fusion: Fusion | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.fusion = fusion or Fusion()
        self._version: PgVersion | None = None
        self._recent: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def _embed_query(self, query: str) -> npt.NDArray[np.float32]:
        vector = self.embedder.query(query)
        with self._lock:
            self._recent[query] = vector
            self._recent.move_to_end(query)
            while len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        return vector

    def generation(self) -> PgVersion:
        """The current version.

        Raises:
            IndexNotBuilt: nothing has been indexed yet.
            EmbedderMismatch: the index was built by another embedder or tokenizer.
        """
        conn = self.store.db.get()
        row = conn.execute("SELECT version FROM index_current").fetchone()
        if row is None or row[0] is None:
            raise IndexNotBuilt("no index yet: run `clusterchat ingest PATH` first")
        loaded = self._version
        if loaded is not None and loaded.id == row[0]:
            return loaded
        meta = current_version(conn)
        if meta is None:
            raise IndexNotBuilt("no index yet: run `clusterchat ingest PATH` first")
        if meta["tokenizer"] != TOKENIZER_VERSION:
            raise EmbedderMismatch(
                f"the index was built with tokenizer {meta['tokenizer']!r}, this version uses "
                f"{TOKENIZER_VERSION!r}: run `clusterchat reindex` to rebuild it"
            )
        if meta["embedder"] != self.embedder.name or meta["dim"] != self.embedder.dim:
            raise EmbedderMismatch(
                f"the index was built with embedder {meta['embedder']!r} ({meta['dim']}-d) but "
                f"{self.embedder.name!r} ({self.embedder.dim}-d) is configured: "
                "run `clusterchat reindex` to rebuild it"
            )
        version = PgVersion(self.store, meta)
        self._version = version
        logger.info("serving index version %s (%d chunks)", version.name, version.size)
        return version

    def dense(
        self, version: PgVersion, query: npt.NDArray[np.float32], n: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """Top `n` rows by cosine similarity (HNSW, scanning on while filters drop rows)."""
        where, args = _filters_sql(filters)
        rows = self.store.db.get().execute(
            f"SELECT id, 1 - (embedding <=> %(q)b) FROM index_chunks WHERE {LIVE}{where}"
            " ORDER BY embedding <=> %(q)b LIMIT %(n)s",
            {"v": version.id, "q": query[0], "n": n, **args},
        )
        # relaxed_order iterative scans may return neighbours slightly out of order
        return sorted(((int(i), float(s)) for i, s in rows), key=lambda r: (-r[1], r[0]))

    def lexical(
        self, version: PgVersion, query: str, n: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """Top `n` rows by BM25 (k1 1.2, b 0.75, as the embedded index) over the `italian`
        lexemes of `query`, among the rows matching any of them."""
        if not _WORD.search(query):
            return []
        where, args = _filters_sql(filters)
        sql = BM25_FILTERED + where if where else BM25_ALL
        rows = self.store.db.get().execute(
            sql + " GROUP BY p.row_id ORDER BY score DESC, p.row_id LIMIT %(n)s",
            {
                "retired": version.retired,
                "v": version.id,
                "q": query,
                "n": n,
                "size": version.size,
                "avgdl": max(float(version.meta["avgdl"]), 1.0),
                **args,
            },
            prepare=False,  # a generic plan cannot see the query's lexemes: twice as slow
        )
        return [(int(i), float(s)) for i, s in rows if s > 0]

    def search(
        self, query: str, k: int = 5, mode: Mode = "hybrid", filters: Filters | None = None
    ) -> list[Hit]:
        """The `k` best chunks for `query`; filters apply before the cut."""
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        version = self.generation()
        depth = max(self.fusion.depth, k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            dense = self.dense(version, self._embed_query(query), depth, filters)
        if mode in ("bm25", "hybrid"):
            lexical = self.lexical(version, query, depth, filters)
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = lexical
        else:
            ranked = self.fusion(dense, lexical)
        top = ranked[:k]
        rows = self.store.db.get().execute(
            f"SELECT {HIT_COLUMNS} FROM index_chunks WHERE id = ANY(%s)", ([r for r, _ in top],)
        )
        by_id = {int(r[0]): _hit(r) for r in rows}
        cosine, okapi = dict(dense), dict(lexical)
        return [
            replace(by_id[row], score=score, similarity=cosine.get(row), bm25=okapi.get(row))
            for row, score in top
            if row in by_id
        ]

    def also_published(self, article_id: str) -> tuple[ArticleRef, ...]:  # noqa: ARG002
        """Near-duplicate groups are not yet computed on Postgres: no other publication."""
        return ()

    def sentence_similarity(self, question: str, sentences: Sequence[str]) -> list[float | None]:
        """Cosine similarity of `question` to each sentence, from the cached sentence vectors
        (None when the version was built without them, or for an unknown sentence)."""
        if not self.generation().has_sentences:
            return [None] * len(sentences)
        with self._lock:
            vector = self._recent.get(question)
        if vector is None:
            vector = self.embedder.query(question)
        keys = [text_key(s).hex() for s in sentences]
        found = self.store.cached_vectors(self.embedder.name, keys)
        return [None if (v := found.get(key)) is None else float(v @ vector[0]) for key in keys]
