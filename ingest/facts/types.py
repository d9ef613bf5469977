"""What the extractor finds in an article: events, sessions, people and their roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

ROLES = (
    "speaker",
    "moderator",
    "opening",
    "keynote",
    "closing",
    "award_winner",
    "award_presenter",
    "jury",
    "coordinator",
    "organiser",
    "other",
)

SESSION_KINDS = (
    "panel",
    "tavola_rotonda",
    "keynote",
    "workshop",
    "premiazione",
    "plenaria",
    "other",
)


@dataclass(frozen=True, slots=True)
class Event:
    """An event the article reports or announces; `dates` are resolved ISO dates."""

    name: str
    edition: str | None
    place: str | None
    dates: tuple[date, ...]
    dates_as_written: str | None
    start: int  # offsets of the sentence that states it: article.text[start:end]
    end: int


@dataclass(frozen=True, slots=True)
class Session:
    """A panel, round table, keynote, workshop, award ceremony... of an event."""

    id: str  # "s1", "s2"... in order of first mention
    title: str
    kind: str  # one of SESSION_KINDS
    event: str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Role:
    """One role a person had, with the sentence(s) that state it."""

    role: str  # one of ROLES
    session: str | None  # a Session.id
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Person:
    """A person named in the article with organisation, job title and roles."""

    name: str
    organisation: str | None
    job_title: str | None
    roles: tuple[Role, ...]


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything extracted from one article; every offset points into its text."""

    article_id: str
    events: tuple[Event, ...] = ()
    sessions: tuple[Session, ...] = ()
    people: tuple[Person, ...] = ()
    section: str | None = None  # the kicker line above the headline, if any
    version: str = field(default="", compare=False)

    def event_dates(self) -> tuple[date, ...]:
        """Every resolved date of every event, sorted, without repeats."""
        return tuple(sorted({d for event in self.events for d in event.dates}))

    def session(self, session_id: str | None) -> Session | None:
        """The session with `session_id`, if any."""
        return next((s for s in self.sessions if s.id == session_id), None)


def facts_to_dict(facts: Facts, text: str) -> dict[str, Any]:
    """The JSON shape of the facts API (quotes cut from `text`, the article's text)."""
    return {
        "events": [
            {
                "name": e.name,
                "edition": e.edition,
                "place": e.place,
                "dates": [d.isoformat() for d in e.dates],
                "dates_as_written": e.dates_as_written,
                "quote": text[e.start : e.end],
                "start": e.start,
                "end": e.end,
            }
            for e in facts.events
        ],
        "sessions": [
            {
                "id": s.id,
                "title": s.title,
                "kind": s.kind,
                "event": s.event,
                "quote": text[s.start : s.end],
                "start": s.start,
                "end": s.end,
            }
            for s in facts.sessions
        ],
        "people": [
            {
                "name": p.name,
                "organisation": p.organisation,
                "job_title": p.job_title,
                "roles": [
                    {
                        "role": r.role,
                        "session": r.session,
                        "quote": text[r.start : r.end],
                        "start": r.start,
                        "end": r.end,
                    }
                    for r in p.roles
                ],
            }
            for p in facts.people
        ],
    }


def facts_from_dict(article_id: str, data: dict[str, Any]) -> Facts:
    """Rebuild stored facts from `facts_to_dict`'s shape (quotes are ignored)."""
    return Facts(
        article_id=article_id,
        events=tuple(
            Event(
                name=e["name"],
                edition=e.get("edition"),
                place=e.get("place"),
                dates=tuple(date.fromisoformat(d) for d in e.get("dates", ())),
                dates_as_written=e.get("dates_as_written"),
                start=int(e["start"]),
                end=int(e["end"]),
            )
            for e in data.get("events", ())
        ),
        sessions=tuple(
            Session(
                id=s["id"],
                title=s["title"],
                kind=s["kind"],
                event=s.get("event"),
                start=int(s["start"]),
                end=int(s["end"]),
            )
            for s in data.get("sessions", ())
        ),
        people=tuple(
            Person(
                name=p["name"],
                organisation=p.get("organisation"),
                job_title=p.get("job_title"),
                roles=tuple(
                    Role(
                        role=r["role"],
                        session=r.get("session"),
                        start=int(r["start"]),
                        end=int(r["end"]),
                    )
                    for r in p.get("roles", ())
                ),
            )
            for p in data.get("people", ())
        ),
        section=data.get("section"),
        version=str(data.get("version", "")),
    )
