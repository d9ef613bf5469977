"""Search results and the vector type shared by the index modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from ingest.types import Chunk

# Rows are L2-normalised float32 vectors, shape (n, dim).
Vectors = npt.NDArray[np.float32]
# Which date a since/until filter reads: the article's publication date, or the dates of
# the events it reports (from its extracted facts).
DateField = Literal["published", "event"]
DATE_FIELDS: tuple[DateField, ...] = get_args(DateField)


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
    # The dates of the events the article reports (from its extracted facts), sorted.
    event_dates: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """An article named beside a citation: another publication of the same news."""

    id: str
    title: str
    url: str | None
    source: str
    published: date | None


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to a date range and/or a source, before the top-k cut.

    With `date_field="event"`, an article passes the range when any date of the events
    it reports is inside it; an article that reports no event date does not pass.
    """

    since: date | None = None
    until: date | None = None
    source: str | None = None
    date_field: DateField = "published"

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        if self.date_field not in DATE_FIELDS:
            raise ValueError(
                f"unknown date field {self.date_field!r}: use one of {', '.join(DATE_FIELDS)}"
            )

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return bool(self.since or self.until or self.source)
