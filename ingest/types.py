"""The data types that ingestion produces: Article, Chunk, Section."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and the character offset in the article text where it starts."""

    start: int
    title: str


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed article: plain text plus the metadata a citation shows."""

    id: str
    source: str  # file path (or the JSONL "source" field) the article came from
    title: str
    text: str
    url: str | None = None
    published: date | None = None
    sections: tuple[Section, ...] = ()
    # Character offsets where each PDF page starts (page n starts at pages[n-1]).
    pages: tuple[int, ...] = ()
    content_hash: str = field(default="", compare=False)

    def heading_at(self, offset: int) -> str | None:
        """The heading of the section that contains `offset`, if any."""
        current = None
        for section in self.sections:
            if section.start > offset:
                break
            current = section.title
        return current

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page that contains `offset`, if the article has pages."""
        page = None
        for number, start in enumerate(self.pages, start=1):
            if start > offset:
                break
            page = number
        return page


@dataclass(frozen=True, slots=True)
class Chunk:
    """A slice of an article: `article.text[start:end] == text`."""

    id: str  # f"{article_id}:{ordinal}"
    article_id: str
    ordinal: int
    text: str
    start: int
    end: int
    heading: str | None = None
    page: int | None = None


def stable_id(key: str) -> str:
    """A short id that stays the same for the same canonical URL or path."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def content_hash(title: str, text: str, url: str | None, published: date | None) -> str:
    """Hash of everything that ends up in the index; unchanged hash means nothing to redo."""
    payload = "\x1f".join([title, text, url or "", published.isoformat() if published else ""])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
