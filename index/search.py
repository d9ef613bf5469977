"""Hybrid search over the current index generation, reloaded when the pointer moves."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from index import faiss_store
from index.embedders import Embedder
from index.errors import EmbedderMismatch, IndexNotBuilt
from index.generations import (
    ARTICLES,
    POINTER,
    SENTENCE_KEYS,
    SENTENCE_VECTORS,
    current_name,
    text_key,
)
from index.lexical import TOKENIZER_VERSION, LexicalIndex
from index.types import ArticleRef, Filters, Hit
from ingest.types import Chunk

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
NO_DATE = -1
# Searches whose query vector is kept for scoring the answer that follows: more than the
# searches that can run between one request's search and its answer.
RECENT_QUERIES = 64


@dataclass(frozen=True, slots=True)
class Fusion:
    """How the dense and BM25 rankings are merged.

    `minmax` (default): each ranking's scores are scaled to [0, 1] over its candidates
    and summed with the weights; `rrf`: reciprocal rank fusion, sum(weight / (k + rank)).
    On the SQuAD-it dev set minmax gave MRR 0.865 against 0.835 for RRF k=60
    (docs/evaluation.md, `python -m scripts.tune_fusion`).
    """

    method: str = "minmax"
    k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    depth: int = 100  # candidates taken from each ranking

    def __post_init__(self) -> None:
        if self.method not in ("minmax", "rrf"):
            raise ValueError(f"unknown fusion {self.method!r}: use 'minmax' or 'rrf'")
        if self.k <= 0 or self.depth <= 0:
            raise ValueError("fusion k and depth must be positive")
        if self.dense_weight < 0 or self.bm25_weight < 0:
            raise ValueError("fusion weights must not be negative")

    def __call__(
        self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """Merge two rankings of (row, score) into one, best first."""
        rankings = [(self.dense_weight, dense), (self.bm25_weight, lexical)]
        if self.method == "rrf":
            return fuse(rankings, self.k)
        return fuse_scores(rankings)


class Generation:
    """One loaded, immutable index generation."""

    def __init__(self, folder: Path) -> None:
        self.name = folder.name
        self.meta = json.loads((folder / "meta.json").read_text())
        self.hits: list[Hit] = []
        for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            chunk = Chunk(
                r["id"],
                r["article_id"],
                r["ordinal"],
                r["text"],
                r["start"],
                r["end"],
                r["heading"],
                r["page"],
            )
            published = date.fromisoformat(r["published"]) if r["published"] else None
            self.hits.append(Hit(chunk, 0.0, r["title"], r["url"], published, r["source"]))
        self.size = len(self.hits)
        self.faiss = faiss_store.load(folder / "faiss.index")
        self.lexical = LexicalIndex.load(folder / "bm25", self.size) if self.size else None
        self._days = np.array(
            [h.published.toordinal() if h.published else NO_DATE for h in self.hits], dtype=np.int64
        )
        self._sources = [f"{h.source}\n{h.url or ''}".lower() for h in self.hits]
        self.articles = len({h.chunk.article_id for h in self.hits})
        self._load_articles(folder)
        # Sentence vectors, when the build made them: rows by the sentence's content key.
        self._sentence_vectors: npt.NDArray[np.float16] | None = None
        self._sentence_rows: dict[bytes, int] = {}
        if (folder / SENTENCE_VECTORS).exists():
            self._sentence_vectors = np.load(folder / SENTENCE_VECTORS)
            keys = np.load(folder / SENTENCE_KEYS)
            self._sentence_rows = {bytes(key): row for row, key in enumerate(keys)}

    def _load_articles(self, folder: Path) -> None:
        """Event dates and near-duplicate groups, per article and per chunk row."""
        path = folder / ARTICLES
        records = json.loads(path.read_text()) if path.exists() else {}
        self.event_dates: dict[str, tuple[date, ...]] = {
            a: tuple(date.fromisoformat(d) for d in r["event_dates"])
            for a, r in records.items()
            if r.get("event_dates")
        }
        # article id -> the original of its near-duplicate group (originals are not keys)
        self.duplicate_of: dict[str, str] = {
            a: r["duplicate_of"] for a, r in records.items() if r.get("duplicate_of")
        }
        self._originals = set(self.duplicate_of.values())
        self._first_hits: dict[str, Hit] = {}
        for hit in self.hits:
            self._first_hits.setdefault(hit.chunk.article_id, hit)
        ids = sorted({h.chunk.article_id for h in self.hits})
        index = {a: i for i, a in enumerate(ids)}
        self._article_ids = ids
        self._article_row = np.array([index[h.chunk.article_id] for h in self.hits], dtype=np.int64)
        self._event_days = [
            np.array([d.toordinal() for d in self.event_dates.get(a, ())], dtype=np.int64)
            for a in ids
        ]
        # Rows of articles that republish another one still in the index.
        self._republished = np.array(
            [self.duplicate_of.get(h.chunk.article_id) in index for h in self.hits], dtype=bool
        )
        self._original_row = np.array(
            [index.get(self.duplicate_of.get(a, a), i) for i, a in enumerate(ids)], dtype=np.int64
        )

    def group(self, article_id: str) -> list[str]:
        """The ids of `article_id`'s near-duplicate group, its original first (itself alone
        when it has no duplicate)."""
        original = self.duplicate_of.get(article_id, article_id)
        others = sorted(a for a, o in self.duplicate_of.items() if o == original)
        return [original, *others]

    def also_published(self, article_id: str) -> tuple[ArticleRef, ...]:
        """The other indexed articles of `article_id`'s group, oldest first."""
        if article_id not in self.duplicate_of and article_id not in self._originals:
            return ()
        refs = self._first_hits
        found = [refs[a] for a in self.group(article_id) if a != article_id and a in refs]
        return tuple(
            ArticleRef(h.chunk.article_id, h.title, h.url, h.source, h.published) for h in found
        )

    @property
    def has_sentences(self) -> bool:
        """True when this generation holds a vector for each sentence."""
        return self._sentence_vectors is not None

    def sentence_similarity(
        self, query: npt.NDArray[np.float32], sentences: Sequence[str]
    ) -> list[float | None]:
        """Cosine similarity of `query` (one row) to each sentence; None for an unknown one."""
        if self._sentence_vectors is None:
            return [None] * len(sentences)
        rows = [self._sentence_rows.get(text_key(s)) for s in sentences]
        known = [r for r in rows if r is not None]
        cosines = iter((self._sentence_vectors[known].astype(np.float32) @ query[0]).tolist())
        return [None if r is None else next(cosines) for r in rows]

    def mask(self, filters: Filters, collapse: bool = False) -> npt.NDArray[np.bool_] | None:
        """Which chunks pass the filters (None when no filter is set and nothing collapses).

        With `collapse`, the chunks of an article that republishes another one are left
        out when that original passes the filters: a near-duplicate group is found
        through its original only.
        """
        if not filters.active and not (collapse and self._republished.any()):
            return None
        keep = np.ones(self.size, dtype=bool)
        if filters.date_field == "event":
            if filters.since or filters.until:
                keep &= self._event_mask(filters)
        else:
            if filters.since:
                keep &= self._days >= filters.since.toordinal()
            if filters.until:
                keep &= (self._days <= filters.until.toordinal()) & (self._days != NO_DATE)
        if filters.source:
            needle = filters.source.lower()
            keep &= np.array([needle in s for s in self._sources], dtype=bool)
        if collapse:
            passing = np.zeros(len(self._article_ids), dtype=bool)
            passing[self._article_row[keep]] = True
            original_passes = passing[self._original_row[self._article_row]]
            keep &= ~(self._republished & original_passes)
        return keep

    def _event_mask(self, filters: Filters) -> npt.NDArray[np.bool_]:
        """Rows whose article reports an event date inside [since, until]."""
        low = filters.since.toordinal() if filters.since else -(2**62)
        high = filters.until.toordinal() if filters.until else 2**62
        inside = np.array(
            [bool(((days >= low) & (days <= high)).any()) for days in self._event_days],
            dtype=bool,
        )
        if not inside.size:
            return np.zeros(self.size, dtype=bool)
        return inside[self._article_row]

    def dense(
        self, query: npt.NDArray[np.float32], n: int, mask: npt.NDArray[np.bool_] | None
    ) -> list[tuple[int, float]]:
        """Top `n` chunks by cosine similarity, restricted to `mask` inside FAISS."""
        return faiss_store.search(self.faiss, self.meta.get("faiss", "flat"), query, n, mask)

    def bm25(
        self, query: str, n: int, mask: npt.NDArray[np.bool_] | None
    ) -> list[tuple[int, float]]:
        """Top `n` chunks by BM25 among those in `mask`, skipping zero scores."""
        if self.lexical is None or n <= 0:
            return []
        scores = self.lexical.scores(query)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, self.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


def fuse(rankings: list[tuple[float, list[tuple[int, float]]]], k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of several rankings of row ids."""
    fused: dict[int, float] = {}
    for weight, ranking in rankings:
        for rank, (row, _) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse_scores(rankings: list[tuple[float, list[tuple[int, float]]]]) -> list[tuple[int, float]]:
    """Weighted sum of min-max normalised scores; a row missing from a ranking gets 0 there."""
    fused: dict[int, float] = {}
    for weight, ranking in rankings:
        if not ranking:
            continue
        scores = [score for _, score in ranking]
        low, high = min(scores), max(scores)
        for row, score in ranking:
            norm = (score - low) / (high - low) if high > low else 1.0
            fused[row] = fused.get(row, 0.0) + weight * norm
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


class Searcher:
    """Answers searches from the current generation of the index at `root`.

    Each search checks the pointer file (one `stat`), so a new generation written by
    any process is picked up without a restart; searches already running finish on
    the generation they started with.
    """

    def __init__(self, root: Path, embedder: Embedder, fusion: Fusion | None = None) -> None:
        self.root = root
        self.embedder = embedder
        self.fusion = fusion or Fusion()
        self._generation: Generation | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        # The vectors of the latest searches, so that scoring a question's sentences right
        # after its search does not embed it again (whatever the embedder's own cache).
        self._recent: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._recent_lock = threading.Lock()

    def _embed_query(self, query: str) -> npt.NDArray[np.float32]:
        """Embed a search query, and remember its vector for `sentence_similarity`."""
        vector = self.embedder.query(query)
        with self._recent_lock:
            self._recent[query] = vector
            self._recent.move_to_end(query)
            while len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        return vector

    def generation(self) -> Generation:
        """The current generation, loading it if the pointer changed.

        Raises:
            IndexNotBuilt: nothing has been indexed yet.
            EmbedderMismatch: the index was built by another embedder.
        """
        try:
            st = os.stat(self.root / POINTER)
        except FileNotFoundError as exc:
            raise IndexNotBuilt("no index yet: run `clusterchat ingest PATH` first") from exc
        stamp = (st.st_ino, st.st_mtime_ns)
        if self._generation is not None and stamp == self._stamp:
            return self._generation
        with self._lock:
            if self._generation is None or stamp != self._stamp:
                name = current_name(self.root)
                if name is None:
                    raise IndexNotBuilt("no index yet: run `clusterchat ingest PATH` first")
                loaded = Generation(self.root / name)
                self._check(loaded)
                self._generation, self._stamp = loaded, stamp
                logger.info("serving index generation %s (%d chunks)", name, loaded.size)
            return self._generation

    def _check(self, generation: Generation) -> None:
        if generation.meta.get("tokenizer") != TOKENIZER_VERSION:
            raise EmbedderMismatch(
                f"the index was built with tokenizer {generation.meta.get('tokenizer')!r}, "
                f"this version uses {TOKENIZER_VERSION!r}: run `clusterchat reindex` to rebuild it"
            )
        built, dim = generation.meta.get("embedder"), generation.meta.get("dim")
        if built != self.embedder.name or dim != self.embedder.dim:
            raise EmbedderMismatch(
                f"the index was built with embedder {built!r} ({dim}-d) but "
                f"{self.embedder.name!r} ({self.embedder.dim}-d) is configured: "
                "run `clusterchat reindex` to rebuild it"
            )

    def also_published(self, article_id: str) -> tuple[ArticleRef, ...]:
        """The other articles of `article_id`'s near-duplicate group in the current index."""
        return self.generation().also_published(article_id)

    def sentence_similarity(self, question: str, sentences: Sequence[str]) -> list[float | None]:
        """Cosine similarity of `question` to each sentence of the current generation.

        None for a sentence the generation has no vector for (built without sentence
        vectors, or the sentence comes from another generation). The question's vector
        is the one its search just computed.
        """
        generation = self.generation()
        if not generation.has_sentences:
            return [None] * len(sentences)
        with self._recent_lock:
            vector = self._recent.get(question)
        if vector is None:  # not searched just before (a follow-up searches a longer query)
            vector = self.embedder.query(question)
        return generation.sentence_similarity(vector, sentences)

    def search(
        self, query: str, k: int = 5, mode: Mode = "hybrid", filters: Filters | None = None
    ) -> list[Hit]:
        """The `k` best chunks for `query`; filters apply before the cut."""
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        generation = self.generation()
        mask = generation.mask(filters or Filters(), collapse=True)
        depth = max(self.fusion.depth, k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            dense = generation.dense(self._embed_query(query), depth, mask)
        if mode in ("bm25", "hybrid"):
            lexical = generation.bm25(query, depth, mask)
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = lexical
        else:
            ranked = self.fusion(dense, lexical)
        cosine, okapi = dict(dense), dict(lexical)
        return [
            replace(
                generation.hits[row],
                score=score,
                similarity=cosine.get(row),
                bm25=okapi.get(row),
                event_dates=generation.event_dates.get(generation.hits[row].chunk.article_id, ()),
            )
            for row, score in ranked[:k]
        ]
