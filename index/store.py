"""The storage and retrieval Protocols that the server uses, whichever backend runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Protocol

from index.docstore import DocStore
from index.embedders import Embedder
from index.errors import NotOnThisBackend
from index.facts_store import PersonMention
from index.generations import BuildReport, Progress, Splitter
from index.search import Mode
from index.types import ArticleRef, Filters, Hit, Vectors
from ingest.facts.types import Facts
from ingest.types import Article, Chunk

__all__ = [
    "ArticleListing",
    "ChunkRow",
    "DocumentStore",
    "IndexView",
    "Indexer",
    "Lexicon",
    "Mode",
    "Progress",
    "Retriever",
    "Splitter",
]

ChunkRow = tuple[Chunk, str, str | None, date | None, str]


class ArticleListing(Protocol):
    """An article's listing row (`index.docstore.ArticleInfo`)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def published(self) -> date | None: ...
    @property
    def source(self) -> str: ...
    @property
    def chunks(self) -> int: ...


class DocumentStore(Protocol):
    """Articles, chunks, source-file fingerprints, the embedding cache and facts.

    Every write is one transaction; a change to articles or chunks bumps `revision`.
    """

    @property
    def revision(self) -> int:
        """A counter that grows with every change to articles or chunks."""

    def articles_of_file(self, path: str) -> list[tuple[str, str]]:
        """(id, title) of each stored article that came from `path`."""
        ...

    def event_dates(self) -> dict[str, tuple[date, ...]]:
        """The dates of the events each article reports, by article id."""
        ...

    def duplicates(self) -> dict[str, str]:
        """Article id -> the id of the earliest publication of the same news."""
        ...

    def fingerprint(self, path: str) -> str | None:
        """The fingerprint recorded when `path` was last ingested."""

    def article_count_for_file(self, path: str) -> int:
        """How many stored articles came from `path`."""

    def file_paths(self) -> list[str]:
        """Every source file path that produced stored articles."""

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
        """Store one file's articles; article id -> added | updated | unchanged | removed."""

    def delete(self, article_id: str) -> None:
        """Remove one article (NotFound if unknown) and forget its file's fingerprint."""

    def forget_file(self, path: str) -> list[str]:
        """Remove a source file's record and its articles; their ids."""

    def get(self, article_id: str) -> Article:
        """One stored article (NotFound if unknown)."""

    def chunks(self, article_id: str) -> tuple[Chunk, ...]:
        """One article's chunks, in order."""

    def articles(self) -> Sequence[ArticleListing]:
        """Every stored article, newest first."""

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) stored."""

    def chunk_rows(self) -> list[ChunkRow]:
        """Every chunk with its article's title, url, date and source, in a stable order."""

    def cached_vectors(self, embedder: str, keys: Sequence[str]) -> dict[str, Vectors]:
        """The cached vectors among `keys` for this embedder."""

    def cache_vectors(self, embedder: str, keys: Sequence[str], vectors: Vectors) -> None:
        """Remember vectors by content key, committed at once."""

    def facts(self, article_ids: Iterable[str]) -> dict[str, Facts]:
        """The stored facts of those of `article_ids` that have some."""

    def put_facts(self, facts: Facts, content_hash: str | None = None) -> bool:
        """Store one article's facts (only while it has `content_hash`, when given)."""

    def stale_facts(self, version: str) -> list[str]:
        """Ids of the articles whose facts are missing or of another extractor version."""

    def find_people(self, name: str) -> list[PersonMention]:
        """Every person in the stored facts whose name contains `name` (accents ignored)."""

    def close(self) -> None:
        """Release connections."""


class Lexicon(Protocol):
    """Term statistics of an index version."""

    def idf(self, tokens: Sequence[str]) -> list[float]:
        """Inverse document frequency of each token (`index.lexical.tokenize` tokens)."""


class IndexView(Protocol):
    """One immutable index version as the routes show it."""

    name: str
    size: int  # chunks
    articles: int

    def __hash__(self) -> int: ...

    @property
    def has_sentences(self) -> bool:
        """True when the version holds a vector for each sentence."""

    @property
    def hits(self) -> Sequence[Hit]:
        """Every chunk of the version, with its article's metadata (score 0)."""

    @property
    def lexical(self) -> Lexicon | None:
        """The version's term statistics, None for an empty index."""


class Retriever(Protocol):
    """Searches the current index version; a new version is picked up without a restart."""

    embedder: Embedder

    def generation(self) -> IndexView:
        """The current version (IndexNotBuilt, EmbedderMismatch when unusable)."""

    def search(
        self, query: str, k: int = 5, mode: Mode = "hybrid", filters: Filters | None = None
    ) -> list[Hit]:
        """The `k` best chunks for `query`; filters apply before the cut."""

    def sentence_similarity(self, question: str, sentences: Sequence[str]) -> list[float | None]:
        """Cosine similarity of `question` to each sentence; None where no vector is known."""

    def also_published(self, article_id: str) -> tuple[ArticleRef, ...]:
        """The other publications of the same news (its near-duplicate group)."""


class Indexer(Protocol):
    """Builds index versions from a document store and switches to them atomically."""

    def is_stale(self, store: DocumentStore, embedder: Embedder, sentence_vectors: bool) -> bool:
        """True when the current version is missing, behind the store or of another model."""

    def build(
        self,
        store: DocumentStore,
        embedder: Embedder,
        *,
        progress: Progress | None = None,
        sentences: Splitter | None = None,
    ) -> BuildReport:
        """Build a version from every stored chunk and make it current (IndexBusy if locked)."""


def embedded(store: object, what: str) -> DocStore:
    """`store` as the embedded SQLite store, for the features only it has so far.

    Raises:
        NotOnThisBackend: `store` is the Postgres one.
    """
    if isinstance(store, DocStore):
        return store
    raise NotOnThisBackend(
        f"{what} is not yet available with CLUSTERCHAT_DATABASE_URL (Postgres): "
        "use the embedded store for it (docs/deploy.md)"
    )
