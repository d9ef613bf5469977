"""Read endpoints over the extracted facts: one article's facts, and people by name."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from index.errors import NotFound
from index.facts_store import PersonMention, fold
from server.extraction import current_facts, facts_document
from server.http.deps import Reader, ServicesDep
from server.http.schemas import error_responses

logger = logging.getLogger(__name__)
router = APIRouter(dependencies=[Reader], tags=["facts"])
ERRORS = error_responses(
    (401, "API key required"),
    (403, "invalid API key"),
    (404, "no article with that id"),
    (422, "invalid request"),
)
MAX_NAME_CHARS = 100
MAX_ID_CHARS = 200


class EventOut(BaseModel):
    """An event the article reports or announces."""

    name: str
    edition: str | None
    place: str | None
    dates: list[date] = Field(description="Resolved dates, YYYY-MM-DD")
    dates_as_written: str | None
    quote: str = Field(description="The sentence that states it: text[start:end]")
    start: int
    end: int


class SessionOut(BaseModel):
    """A panel, round table, keynote, workshop, award ceremony... of an event."""

    id: str = Field(description='"s1", "s2"... in order of first mention')
    title: str
    kind: str
    event: str | None
    quote: str
    start: int
    end: int


class RoleOut(BaseModel):
    """One role of a person, with the sentence that states it."""

    role: str
    session: str | None = Field(description="A session id of the same article, or null")
    quote: str
    start: int
    end: int


class PersonOut(BaseModel):
    """A person named in the article."""

    name: str
    organisation: str | None
    job_title: str | None
    roles: list[RoleOut]


class ArticleFactsOut(BaseModel):
    """Everything extracted from one article; every quote is `text[start:end]`."""

    article_id: str
    title: str
    published: date | None
    events: list[EventOut]
    sessions: list[SessionOut]
    people: list[PersonOut]


class MentionRoleOut(BaseModel):
    """A role of the person in one article, with its session's title."""

    role: str
    session: str | None = Field(description="The session id in that article, or null")
    session_title: str | None
    quote: str
    start: int
    end: int


class MentionOut(BaseModel):
    """One article that names the person, and what they did there."""

    article_id: str
    title: str
    published: date | None
    organisation: str | None
    job_title: str | None
    roles: list[MentionRoleOut]


class PersonMatchOut(BaseModel):
    """One person (names equal but for accents and case are one person)."""

    name: str
    articles: list[MentionOut]


class PeopleOut(BaseModel):
    """Every person whose name contains the asked-for name."""

    name: str
    people: list[PersonMatchOut]


@router.get("/api/articles/{article_id}/facts", response_model=ArticleFactsOut, responses=ERRORS)
def article_facts(
    article_id: Annotated[str, Path(max_length=MAX_ID_CHARS)], services: ServicesDep
) -> ArticleFactsOut:
    """The events, sessions and people (with roles and quotes) found in one article."""
    try:
        article = services.store.get(article_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    facts = current_facts(services.store, article)
    return ArticleFactsOut.model_validate(facts_document(article, facts))


def _mention(found: PersonMention) -> MentionOut:
    roles = []
    for role, quote in zip(found.person.roles, found.quotes, strict=False):
        session = found.facts.session(role.session)
        roles.append(
            MentionRoleOut(
                role=role.role,
                session=role.session,
                session_title=session.title if session else None,
                quote=quote,
                start=role.start,
                end=role.end,
            )
        )
    return MentionOut(
        article_id=found.article_id,
        title=found.title,
        published=found.published,
        organisation=found.person.organisation,
        job_title=found.person.job_title,
        roles=roles,
    )


@router.get("/api/people", response_model=PeopleOut, responses=ERRORS)
def people(
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_NAME_CHARS,
            description="Part of a name; accents and case are ignored",
        ),
    ],
    services: ServicesDep,
) -> PeopleOut:
    """Every person whose name contains `name`, with each article, session and role."""
    if not fold(name):
        raise HTTPException(422, "name: must not be blank")
    grouped: dict[str, PersonMatchOut] = {}
    for found in services.store.find_people(name):
        key = fold(found.person.name)
        match = grouped.setdefault(key, PersonMatchOut(name=found.person.name, articles=[]))
        match.articles.append(_mention(found))
    logger.info("people search: %d people", len(grouped))
    return PeopleOut(name=name, people=list(grouped.values()))
