"""What every embedder shares: the Protocol, row normalisation and the question cache."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from index.types import Vectors

# Polls of an OpenMP thread before it sleeps (GNU OpenMP counts pause instructions).
SPIN_COUNT = 10_000


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    @property
    def name(self) -> str:
        """Identifies the vectors (model and runtime); stored with the index and the cache."""
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


def normalise(vectors: Any) -> Vectors:
    """Rows scaled to unit length, as contiguous float32."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12), dtype=np.float32)


def thread_count(threads: int | None) -> int:
    """The threads to use: the given count, else every core this process may run on."""
    if threads is not None and threads <= 0:
        raise ValueError(f"threads must be positive, got {threads}")
    return threads or len(os.sched_getaffinity(0))


def set_openmp_environment(threads: int) -> None:
    """OpenMP settings, read once when the library loads: see docs/profile.md.

    `OMP_WAIT_POLICY=PASSIVE` stops idle threads from spinning on a 2-core machine, and a
    bounded `GOMP_SPINCOUNT` lets a thread poll well under a millisecond before it sleeps,
    since one question runs about a hundred short parallel regions.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))


class QueryCache:
    """Recent questions' vectors, computed under one lock (questions come back often:
    example questions, retried requests)."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"query_cache must not be negative, got {size}")
        self.size = size
        self.hits = 0
        self.lock = threading.Lock()
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()

    def get(self, text: str, compute: Callable[[str], Vectors]) -> Vectors:
        """The vector of `text`, from the cache or from `compute` (called with the lock held)."""
        with self.lock:
            cached = self._vectors.get(text)
            if cached is not None:
                self._vectors.move_to_end(text)
                self.hits += 1
                return cached.copy()
            vector = compute(text)
            if self.size:
                self._vectors[text] = vector
                if len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
            return vector.copy()
