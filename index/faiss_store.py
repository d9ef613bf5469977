"""FAISS indexes over normalised vectors: exact (flat) or approximate (HNSW), with filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from index.types import Vectors

# faiss's bundled type hints miss several runtime classes (SearchParametersHNSW, selectors).
faiss: Any = _faiss
# One query at a time gains nothing from FAISS's OpenMP pool, and that pool competes with
# the embedder's own OpenMP threads on a small machine: single-threaded, hybrid search p50
# on 10k chunks went from 35.1 to 25.7 ms (docs/profile.md).
faiss.omp_set_num_threads(1)
KINDS = ("flat", "hnsw")


def make_index(vectors: Vectors, kind: str) -> Any:
    """An inner-product index: exact `flat`, or `hnsw` (approximate, faster past ~100k)."""
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}: use 'flat' or 'hnsw'")
    if len(vectors):
        index.add(vectors)
    return index


def save(index: Any, path: Path) -> None:
    """Write an index file."""
    faiss.write_index(index, str(path))


def load(path: Path) -> Any:
    """Read an index file."""
    return faiss.read_index(str(path))


def search(
    index: Any, kind: str, query: Vectors, n: int, allowed: npt.NDArray[np.bool_] | None
) -> list[tuple[int, float]]:
    """Top `n` rows by inner product; `allowed` restricts rows inside FAISS, before the cut."""
    size = int(index.ntotal)
    if size == 0 or n <= 0:
        return []
    selector = None
    if allowed is not None:
        ids = np.flatnonzero(allowed).astype(np.int64)
        if ids.size == 0:
            return []
        selector = faiss.IDSelectorBatch(ids)
        n = min(n, int(ids.size))
    if kind == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=max(64, n))
        if selector is not None:
            params.sel = selector
    else:
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
    scores, rows = index.search(query, min(n, size), params=params)
    return [(int(i), float(s)) for i, s in zip(rows[0], scores[0], strict=True) if i >= 0]
