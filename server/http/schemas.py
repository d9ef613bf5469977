"""Request and response models of the HTTP API, and one conversion function per type."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from index.types import Hit
from server.answer.answerer import Answer, Citation, Suggestion


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _no_bool(value: object) -> object:
    # pydantic reads true as 1: a count must be a JSON number.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    return value


def _only_bool(value: object) -> object:
    # pydantic reads "yes", "1" or 1 as true: a flag must be a JSON boolean.
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Models with a field named `date` cannot name the type inside their body.
Dates = list[date]


class FiltersIn(BaseModel):
    """Restrict results to a date range and/or a source (path or URL substring)."""

    model_config = ConfigDict(extra="forbid")
    since: date | None = None
    until: date | None = None
    source: str | None = Field(default=None, min_length=1, max_length=300)
    date_field: Literal["published", "event"] = Field(
        default="published",
        description="The date `since`/`until` read: the publication date, or the dates of "
        "the events the article reports (an article with no event date then never matches)",
    )

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # Without this, pydantic reads "0" or 0 as a Unix timestamp (1970-01-01).
        if value is None or isinstance(value, date):
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            return value
        raise ValueError("must be a date written YYYY-MM-DD")

    @model_validator(mode="after")
    def _ordered(self) -> FiltersIn:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class SearchIn(BaseModel):
    """POST /api/search."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=10_000)
    k: int = Field(default=5, ge=1, le=50)
    filters: FiltersIn | None = None
    mode: Literal["hybrid", "dense", "bm25"] | None = None

    _blank = field_validator("query")(_not_blank)
    _k = field_validator("k", mode="before")(_no_bool)


class HitOut(BaseModel):
    """One search result."""

    article_id: str
    chunk_id: str
    title: str
    url: str | None
    date: date | None
    text: str
    score: float
    start: int
    end: int
    page: int | None = None
    heading: str | None = None
    event_dates: Dates = Field(
        default_factory=list, description="Dates of the events the article reports"
    )


class SearchOut(BaseModel):
    """Response of POST /api/search."""

    hits: list[HitOut]


class TurnIn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant", "system"]
    content: str = Field(description="At most CLUSTERCHAT_MAX_TURN_CHARS characters (8000)")


class AskIn(BaseModel):
    """POST /api/ask."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=10_000)
    k: int | None = Field(default=None, ge=1, le=50)
    history: list[TurnIn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first; at most CLUSTERCHAT_MAX_HISTORY_TURNS (50)",
    )
    stream: bool = False
    filters: FiltersIn | None = None

    _blank = field_validator("question")(_not_blank)
    _k = field_validator("k", mode="before")(_no_bool)
    _stream = field_validator("stream", mode="before")(_only_bool)


class PublishedByOut(BaseModel):
    """Another publication of the cited news (a near-duplicate of the cited article)."""

    id: str
    title: str
    source: str
    url: str | None
    date: date | None


class CitationOut(BaseModel):
    """A verbatim quote from an article: quote == article.text[start:end]."""

    n: int
    article_id: str
    chunk_id: str
    title: str
    url: str | None
    date: date | None
    quote: str
    start: int
    end: int
    highlight_start: int | None
    highlight_end: int | None
    passage: str
    passage_start: int
    also_published_by: list[PublishedByOut] = Field(
        default_factory=list,
        description="The same news published by others, oldest first; the citation quotes "
        "the earliest publication the search found",
    )


class SuggestionOut(BaseModel):
    """A close article offered with an abstention."""

    article_id: str
    title: str
    url: str | None
    date: date | None


class PersonOut(BaseModel):
    """A person a who-answer names: role asked, organisation, and the citation that says so."""

    name: str
    role: str
    organisation: str | None
    job_title: str | None
    citation: int


class SpanOut(BaseModel):
    """The asked-for name, date, number, place or title: article.text[start:end] == text."""

    text: str
    start: int
    end: int


class AnswerOut(BaseModel):
    """The answer a member sees."""

    answer: str
    abstained: bool
    citations: list[CitationOut]
    suggestions: list[SuggestionOut]
    answerer: str
    language: str
    timings_ms: dict[str, float]
    people: list[PersonOut] = Field(default_factory=list)
    # Given by the learned answerer (CLUSTERCHAT_ANSWERER=learned) only, else null.
    span: SpanOut | None = None  # inside the first citation's quote
    confidence: float | None = Field(default=None, ge=0, le=1)


class FeedbackIn(BaseModel):
    """POST /api/feedback."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=10_000)
    answer: str = Field(max_length=50_000)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=5_000)


class HealthOut(BaseModel):
    """GET /healthz."""

    status: str
    documents: int
    chunks: int
    generation: str
    embedder: str


class DocumentOut(BaseModel):
    """A stored article."""

    id: str
    title: str
    url: str | None
    date: date | None
    source: str
    chunks: int
    event_dates: Dates = Field(
        default_factory=list, description="Dates of the events the article reports"
    )
    duplicate_of: str | None = Field(
        default=None,
        description="The id of the earliest publication of the same news, when this article "
        "republishes it (as the last index build found); null for an original",
    )


class JobOut(BaseModel):
    """A background index job."""

    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    done: int
    total: int
    counts: dict[str, Any]
    errors: list[str]


class ChatMessageIn(BaseModel):
    """An OpenAI chat message; content may be a string or a list of text parts."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, joining text parts."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatCompletionIn(BaseModel):
    """POST /v1/chat/completions (OpenAI-compatible; unknown fields are accepted)."""

    model_config = ConfigDict(extra="allow")
    model: str = "clusterchat"
    messages: list[ChatMessageIn] = Field(
        min_length=1,
        description="At most CLUSTERCHAT_MAX_MESSAGES (100), each at most "
        "CLUSTERCHAT_MAX_TURN_CHARS characters (8000)",
    )
    stream: bool = False

    _stream = field_validator("stream", mode="before")(_only_bool)


def error_responses(*codes: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for JSON errors: every one is `{"detail": "..."}`."""
    return {
        code: {"description": text, "content": {"application/json": {"example": {"detail": text}}}}
        for code, text in codes
    }


def hit_out(hit: Hit) -> HitOut:
    """Convert a search hit."""
    c = hit.chunk
    return HitOut(
        article_id=c.article_id,
        chunk_id=c.id,
        title=hit.title,
        url=hit.url,
        date=hit.published,
        text=c.text,
        score=hit.score,
        start=c.start,
        end=c.end,
        page=c.page,
        heading=c.heading,
        event_dates=list(hit.event_dates),
    )


def citation_out(c: Citation) -> CitationOut:
    """Convert a citation."""
    return CitationOut(
        n=c.n,
        article_id=c.article_id,
        chunk_id=c.chunk_id,
        title=c.title,
        url=c.url,
        date=c.published,
        quote=c.quote,
        start=c.start,
        end=c.end,
        highlight_start=c.highlight_start,
        highlight_end=c.highlight_end,
        passage=c.passage,
        passage_start=c.passage_start,
        also_published_by=[
            PublishedByOut(id=r.id, title=r.title, source=r.source, url=r.url, date=r.published)
            for r in c.also_published_by
        ],
    )


def suggestion_out(s: Suggestion) -> SuggestionOut:
    """Convert a suggestion."""
    return SuggestionOut(article_id=s.article_id, title=s.title, url=s.url, date=s.published)


def answer_out(answer: Answer, timings: dict[str, float]) -> AnswerOut:
    """Convert an answer, with the time each step took."""
    return AnswerOut(
        answer=answer.text,
        abstained=answer.abstained,
        citations=[citation_out(c) for c in answer.citations],
        suggestions=[suggestion_out(s) for s in answer.suggestions],
        answerer=answer.answerer,
        language=answer.language,
        timings_ms={k: round(v, 2) for k, v in timings.items()},
        people=[
            PersonOut(
                name=p.name,
                role=p.role,
                organisation=p.organisation,
                job_title=p.job_title,
                citation=p.citation,
            )
            for p in answer.people
        ],
        span=SpanOut(text=answer.span.text, start=answer.span.start, end=answer.span.end)
        if answer.span
        else None,
        confidence=answer.confidence,
    )
