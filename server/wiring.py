"""The one place that names concrete classes and builds the services from Settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from index.backends.embedded import DocStore, EmbeddedIndex, Fusion, Searcher
from index.backends.pg_index import PgIndex
from index.backends.pg_search import PgSearcher
from index.backends.postgres import PgStore
from index.embedders import Embedder, make_embedder
from index.errors import NotFound, SearchIndexError
from index.store import DocumentStore, Indexer, Retriever
from server.answer.answerer import EXTRACTIVE_THRESHOLD, Answerer, ExtractiveAnswerer
from server.answer.facts import FactsAnswerer
from server.answer.facts_match import FactsLookup, Sourced
from server.answer.learned import LearnedAnswerer
from server.extraction import facts_of
from server.feedback import FeedbackStore, PgFeedbackStore
from server.http.metrics import Metrics
from server.jobs import JobRunner
from server.pg_jobs import PgJobRunner
from server.settings import Settings

logger = logging.getLogger(__name__)


def open_store(settings: Settings) -> DocumentStore:
    """The Postgres store at `CLUSTERCHAT_DATABASE_URL`, else the SQLite one in the data dir.

    Raises:
        SchemaMismatch: the database needs `clusterchat migrate` (or a newer ClusterChat).
    """
    if settings.database_url is not None:
        return PgStore(settings.database_url.get_secret_value())
    return DocStore(settings.db_path)


def indexer_for(settings: Settings, store: DocumentStore) -> Indexer:
    """Where index versions of `store` are built: its database, or the data dir's folder."""
    if isinstance(store, PgStore):
        return PgIndex()
    return EmbeddedIndex(settings.index_dir, settings.faiss_index)


def embedder_for(settings: Settings) -> Embedder:
    """The configured embedder (loads its weights on first use)."""
    return make_embedder(
        settings.embedder, threads=settings.threads, query_cache=settings.query_cache
    )


def searcher_for(
    settings: Settings, embedder: Embedder, store: DocumentStore | None = None
) -> Retriever:
    """A searcher over the current index (of `store`, else of a store opened for it)
    with the configured fusion."""
    fusion = Fusion(
        method=settings.fusion,
        k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        bm25_weight=settings.bm25_weight,
    )
    if settings.database_url is not None:
        pg = store if isinstance(store, PgStore) else open_store(settings)
        assert isinstance(pg, PgStore)
        return PgSearcher(pg, embedder, fusion)
    return Searcher(settings.index_dir, embedder, fusion)


def idf_from(searcher: Retriever) -> Any:
    """Term weights from the serving generation's BM25 statistics (uniform without one)."""

    def idf(tokens: Sequence[str]) -> list[float]:
        try:
            lexical = searcher.generation().lexical
        except SearchIndexError:
            lexical = None
        return lexical.idf(tokens) if lexical else [1.0] * len(tokens)

    return idf


def extractive_for(settings: Settings, searcher: Retriever) -> ExtractiveAnswerer | LearnedAnswerer:
    """The sentence-quoting answerer `CLUSTERCHAT_ANSWERER` names, with its threshold.

    "extractive" (the default) is the hand-tuned one, abstaining below 0.35 unless
    `CLUSTERCHAT_ABSTAIN_THRESHOLD` says otherwise; "learned" is the trained selector,
    abstaining below its model's calibrated threshold unless the setting is given. Both
    score sentences by their own vectors where the index has them, else by their passage's
    similarity.
    """
    idf = idf_from(searcher)
    if settings.answerer == "learned":
        return LearnedAnswerer(
            idf,
            threshold=settings.abstain_threshold,
            sentence_similarity=searcher.sentence_similarity,
        )
    threshold = settings.abstain_threshold
    return ExtractiveAnswerer(
        idf,
        threshold=EXTRACTIVE_THRESHOLD if threshold is None else threshold,
        sentence_similarity=searcher.sentence_similarity,
    )


def facts_lookup(store: DocumentStore) -> FactsLookup:
    """Articles with their chunks and stored facts, kept per article version.

    An article stored before facts existed (its facts are computed on the next index
    update) is read by the extractor on the spot.
    """
    cache: dict[str, tuple[str, str, Sourced]] = {}
    lock = threading.Lock()

    def lookup(article_ids: Sequence[str]) -> Mapping[str, Sourced]:
        stored = store.facts(article_ids)
        found: dict[str, Sourced] = {}
        for article_id in article_ids:
            facts = stored.get(article_id)
            version = facts.version if facts else ""
            with lock:
                cached = cache.get(article_id)
            try:
                article = store.get(article_id)
            except NotFound:
                continue
            if cached is not None and cached[:2] == (article.content_hash, version):
                found[article_id] = cached[2]
                continue
            if facts is None:
                facts = facts_of(article)
            if facts is None:
                continue
            sourced = Sourced(article, store.chunks(article_id), facts)
            with lock:
                cache[article_id] = (article.content_hash, version, sourced)
            found[article_id] = sourced
        return found

    return lookup


@dataclass
class Services:
    """Everything a request handler needs, built once per app."""

    settings: Settings
    store: DocumentStore
    index: Indexer
    embedder: Embedder
    searcher: Retriever
    extractive: ExtractiveAnswerer | LearnedAnswerer  # CLUSTERCHAT_ANSWERER
    answerer: Answerer
    llm: Any | None  # server.answer.llm.LLMAnswerer when an LLM is configured
    jobs: JobRunner | PgJobRunner
    feedback: FeedbackStore | PgFeedbackStore
    metrics: Metrics
    http: httpx.Client | None = None

    def close(self) -> None:
        """Release connections."""
        if self.http is not None:
            self.http.close()
        self.jobs.close()
        self.store.close()


def build_services(settings: Settings) -> Services:
    """Open the stores and build the embedder, searcher and answerers named in `settings`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    embedder = embedder_for(settings)
    searcher = searcher_for(settings, embedder, store)
    extractive = extractive_for(settings, searcher)
    llm: Any | None = None
    http: httpx.Client | None = None
    if settings.llm_base_url is not None:
        from server.answer.llm import LLMAnswerer

        http = httpx.Client()
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        llm = LLMAnswerer(
            http,
            str(settings.llm_base_url).rstrip("/"),
            settings.llm_model,
            fallback=extractive,
            api_key=key,
            timeout=settings.llm_timeout,
            retries=settings.llm_retries,
        )
    jobs: JobRunner | PgJobRunner
    feedback: FeedbackStore | PgFeedbackStore
    if isinstance(store, PgStore):
        jobs, feedback = PgJobRunner(store), PgFeedbackStore(store)
    else:
        jobs, feedback = JobRunner(settings.db_path), FeedbackStore(settings.db_path)
    # Role questions ("chi ha moderato…") are answered from the extracted facts first.
    answerer: Answerer = FactsAnswerer(llm or extractive, facts_lookup(store), embedder)
    return Services(
        settings=settings,
        store=store,
        index=indexer_for(settings, store),
        embedder=embedder,
        searcher=searcher,
        extractive=extractive,
        answerer=answerer,
        llm=llm,
        jobs=jobs,
        feedback=feedback,
        metrics=Metrics(store.counts),
        http=http,
    )
