"""What `clusterchat facts` and `clusterchat documents --json` print about extracted facts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from index.store import DocumentStore


def _quote(text: str) -> str:
    return "\u201c" + " ".join(text.split()) + "\u201d"


def _event_lines(events: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for e in events:
        where = ", ".join(x for x in (e["edition"], e["place"]) if x)
        when = ", ".join(e["dates"]) or "no date"
        written = f" ({e['dates_as_written']})" if e["dates_as_written"] else ""
        lines.append(f"  - {e['name']}{f' [{where}]' if where else ''}: {when}{written}")
        lines.append(f"    {_quote(e['quote'])} [{e['start']}:{e['end']}]")
    return lines


def _session_lines(sessions: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for s in sessions:
        event = f" ({s['event']})" if s["event"] else ""
        lines.append(f"  {s['id']} {s['kind']}: {s['title']}{event}")
        lines.append(f"    {_quote(s['quote'])} [{s['start']}:{s['end']}]")
    return lines


def _people_lines(people: Sequence[dict[str, Any]], titles: dict[str, str]) -> list[str]:
    lines = []
    for p in people:
        about = ", ".join(x for x in (p["job_title"], p["organisation"]) if x)
        lines.append(f"  - {p['name']}{f' ({about})' if about else ''}")
        for r in p["roles"]:
            session = r["session"]
            where = f" in {session} {titles.get(session, '')}".rstrip() if session else ""
            lines.append(f"    {r['role']}{where}: {_quote(r['quote'])} [{r['start']}:{r['end']}]")
    return lines


def render_facts(doc: dict[str, Any]) -> str:
    """Readable text of a `facts_document`: events, sessions, people with roles and quotes."""
    titles = {s["id"]: s["title"] for s in doc["sessions"]}
    lines = [f"{doc['title']} ({doc['published'] or 'no date'}) {doc['article_id']}"]
    for heading, items, render in (
        ("events", doc["events"], _event_lines(doc["events"])),
        ("sessions", doc["sessions"], _session_lines(doc["sessions"])),
        ("people", doc["people"], _people_lines(doc["people"], titles)),
    ):
        lines.append(f"{heading.capitalize()}:" if items else f"No {heading} found.")
        lines += render
    return "\n".join(lines)


def listing_extras(store: DocumentStore, article_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per article id: its `section` (the kicker line, or None) and `event_dates` (ISO)."""
    facts = store.facts(article_ids)
    extras: dict[str, dict[str, Any]] = {}
    for article_id in article_ids:
        found = facts.get(article_id)
        extras[article_id] = {
            "section": found.section if found else None,
            "event_dates": [d.isoformat() for d in found.event_dates()] if found else [],
        }
    return extras
