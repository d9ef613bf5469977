"""The embedded backend: SQLite documents, FAISS + BM25 index generations in the data folder."""

from __future__ import annotations

from pathlib import Path

from index.docstore import DocStore
from index.duplicates import DUPLICATES_VERSION
from index.embedders import Embedder
from index.generations import BuildReport, build, generation_meta
from index.lexical import TOKENIZER_VERSION
from index.search import Fusion, Generation, Searcher
from index.store import DocumentStore, Progress, Splitter

__all__ = ["DocStore", "EmbeddedIndex", "Fusion", "Generation", "Searcher"]


class EmbeddedIndex:
    """Index generations in a folder (`index.generations`), switched by a pointer file."""

    def __init__(self, root: Path, faiss_kind: str = "flat") -> None:
        self.root = root
        self.faiss_kind = faiss_kind

    def is_stale(self, store: DocumentStore, embedder: Embedder, sentence_vectors: bool) -> bool:
        """True when the current generation is missing, behind the store, or of another
        model, or lacks the sentence vectors asked for."""
        meta = generation_meta(self.root)
        if meta is None:
            return True
        return (
            meta.get("revision") != store.revision
            or meta.get("embedder") != embedder.name
            or meta.get("tokenizer") != TOKENIZER_VERSION
            or meta.get("facts_revision") != getattr(store, "facts_revision", None)
            or meta.get("duplicates") != DUPLICATES_VERSION
            or (sentence_vectors and meta.get("sentences") is None)
        )

    def build(
        self,
        store: DocumentStore,
        embedder: Embedder,
        *,
        progress: Progress | None = None,
        sentences: Splitter | None = None,
    ) -> BuildReport:
        """A new generation folder, then the pointer moved (IndexBusy while another builds)."""
        if not isinstance(store, DocStore):
            raise TypeError("the embedded index builds from the SQLite DocStore")
        return build(
            store,
            embedder,
            self.root,
            faiss_kind=self.faiss_kind,
            progress=progress,
            sentences=sentences,
        )
