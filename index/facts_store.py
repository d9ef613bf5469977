"""SQLite tables of extracted facts: one row per article, plus a name index of its people.

The rows live in the DocStore's file and reference their article with `ON DELETE
CASCADE`, so replacing or deleting an article drops its facts in the same transaction.
Facts changes bump their own counter (`facts_revision`), not the store's `revision`:
they do not change what the search index holds, so they need no new generation.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ingest.facts.types import Facts, Person, facts_from_dict, facts_to_dict

TABLES = (
    """CREATE TABLE IF NOT EXISTS facts (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    version TEXT NOT NULL, section TEXT, data TEXT NOT NULL
)""",
    # One row per person of an article, `key` folded by `fold` for partial name search.
    """CREATE TABLE IF NOT EXISTS fact_people (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (article_id, ordinal)
)""",
)
# Ids per `IN (...)` query, well under SQLite's bound-parameter limit.
BATCH = 500
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def fold(text: str) -> str:
    """`text` for matching: no accents, case-folded, one kind of apostrophe, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def create_tables(db: sqlite3.Connection) -> None:
    """Create the facts tables if missing (a store from before facts gets them on open)."""
    for ddl in TABLES:
        db.execute(ddl)


def _bump(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO meta(key, value) VALUES('facts_revision', '1') ON CONFLICT(key) "
        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def write(db: sqlite3.Connection, facts: Facts, text: str) -> None:
    """Store `facts` of the article whose text is `text`, replacing what it had.

    Raises:
        ValueError: an offset falls outside `text` (the facts are of another text).
    """
    check_offsets(facts, text)
    data = facts_to_dict(facts, text)
    data["section"] = facts.section
    db.execute("DELETE FROM fact_people WHERE article_id=?", (facts.article_id,))
    db.execute(
        "INSERT OR REPLACE INTO facts(article_id, version, section, data) VALUES(?,?,?,?)",
        (facts.article_id, facts.version, facts.section, json.dumps(data, ensure_ascii=False)),
    )
    db.executemany(
        "INSERT INTO fact_people(article_id, ordinal, key) VALUES(?,?,?)",
        [(facts.article_id, n, fold(p.name)) for n, p in enumerate(facts.people)],
    )
    _bump(db)


def check_offsets(facts: Facts, text: str) -> None:
    """Raise ValueError unless every span of `facts` lies inside `text`."""
    spans = [(e.start, e.end) for e in facts.events]
    spans += [(s.start, s.end) for s in facts.sessions]
    spans += [(r.start, r.end) for p in facts.people for r in p.roles]
    for start, end in spans:
        if not 0 <= start <= end <= len(text):
            raise ValueError(
                f"facts of {facts.article_id}: span {start}:{end} is outside the text "
                f"({len(text)} characters)"
            )


def stored_version(db: sqlite3.Connection, article_id: str) -> str | None:
    """The extractor version of an article's stored facts, None when it has none."""
    row = db.execute("SELECT version FROM facts WHERE article_id=?", (article_id,)).fetchone()
    return str(row[0]) if row else None


def stamp(db: sqlite3.Connection) -> tuple[str, str]:
    """(store revision, facts revision): changes whenever any stored facts may have."""
    values = dict(
        db.execute("SELECT key, value FROM meta WHERE key IN ('revision', 'facts_revision')")
    )
    return str(values.get("revision", "0")), str(values.get("facts_revision", "0"))


def _load(article_id: str, version: str, data: str) -> Facts:
    parsed: dict[str, Any] = json.loads(data)
    parsed["version"] = version
    return facts_from_dict(article_id, parsed)


def read(db: sqlite3.Connection, article_ids: Sequence[str]) -> dict[str, Facts]:
    """The stored facts of those of `article_ids` that have some."""
    found: dict[str, Facts] = {}
    for i in range(0, len(article_ids), BATCH):
        batch = list(article_ids[i : i + BATCH])
        marks = ",".join("?" * len(batch))
        for article_id, version, data in db.execute(
            f"SELECT article_id, version, data FROM facts WHERE article_id IN ({marks})", batch
        ):
            found[article_id] = _load(article_id, version, data)
    return found


def stale(db: sqlite3.Connection, version: str) -> list[str]:
    """Ids of the articles with no stored facts or facts of another extractor version."""
    rows = db.execute(
        "SELECT a.id FROM articles a LEFT JOIN facts f ON f.article_id = a.id"
        " WHERE f.version IS NULL OR f.version <> ? ORDER BY a.id",
        (version,),
    )
    return [r[0] for r in rows]


@dataclass(frozen=True, slots=True)
class PersonMention:
    """One person named in one article, with the facts of that article around them."""

    article_id: str
    title: str
    published: date | None
    person: Person
    facts: Facts  # the article's facts: its sessions name the person's roles
    quotes: tuple[str, ...]  # the quote of each of `person.roles`, in order


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_people(db: sqlite3.Connection, name: str) -> list[PersonMention]:
    """Every person whose name contains `name`, ignoring accents and case; newest first."""
    pattern = f"%{_escape_like(fold(name))}%"
    rows = db.execute(
        "SELECT p.article_id, p.ordinal, a.title, a.published, f.version, f.data"
        " FROM fact_people p JOIN articles a ON a.id = p.article_id"
        " JOIN facts f ON f.article_id = p.article_id"
        " WHERE p.key LIKE ? ESCAPE '\\'"
        " ORDER BY a.published DESC, a.title, p.article_id, p.ordinal",
        (pattern,),
    )
    mentions = []
    for article_id, ordinal, title, published, version, data in rows:
        facts = _load(article_id, version, data)
        if ordinal >= len(facts.people):
            continue  # cannot happen: both rows are written together
        stored_roles = json.loads(data)["people"][ordinal].get("roles", [])
        mentions.append(
            PersonMention(
                article_id=article_id,
                title=title,
                published=date.fromisoformat(published) if published else None,
                person=facts.people[ordinal],
                facts=facts,
                quotes=tuple(str(r.get("quote", "")) for r in stored_roles),
            )
        )
    return mentions


def ids_of(values: Iterable[str]) -> list[str]:
    """`values` without repeats, in order (ids for `read`)."""
    return list(dict.fromkeys(values))
