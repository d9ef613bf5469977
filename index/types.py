"""Search results and the vector type shared by the index modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from ingest.types import Chunk

# Rows are L2-normalised float32 vectors, shape (n, dim).
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk with the article metadata a citation needs."""

    chunk: Chunk
    score: float
    title: str
    url: str | None
    published: date | None
    source: str
    # The raw signals behind `score`: cosine similarity and BM25, when that ranking saw the chunk.
    similarity: float | None = None
    bm25: float | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to a date range and/or a source, before the top-k cut."""

    since: date | None = None
    until: date | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return bool(self.since or self.until or self.source)
