"""Postgres tables of extracted facts, as `index.facts_store` keeps them in SQLite."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from index.backends.pg_connect import Connection
from index.facts_store import PersonMention, check_offsets, fold
from ingest.facts.types import Facts, facts_from_dict, facts_to_dict


def _bump(conn: Connection) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('facts_revision', 1)"
        " ON CONFLICT (key) DO UPDATE SET value = meta.value + 1"
    )


def write(conn: Connection, facts: Facts, text: str) -> None:
    """Store `facts` of the article whose text is `text`, replacing what it had.

    Raises:
        ValueError: an offset falls outside `text` (the facts are of another text).
    """
    check_offsets(facts, text)
    data = facts_to_dict(facts, text)
    data["section"] = facts.section
    conn.execute("DELETE FROM fact_people WHERE article_id=%s", (facts.article_id,))
    conn.execute(
        "INSERT INTO facts(article_id, version, section, data) VALUES (%s,%s,%s,%s)"
        " ON CONFLICT (article_id) DO UPDATE SET version = EXCLUDED.version,"
        " section = EXCLUDED.section, data = EXCLUDED.data",
        (facts.article_id, facts.version, facts.section, json.dumps(data, ensure_ascii=False)),
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO fact_people(article_id, ordinal, key) VALUES (%s,%s,%s)",
            [(facts.article_id, n, fold(p.name)) for n, p in enumerate(facts.people)],
        )
    _bump(conn)


def stored_version(conn: Connection, article_id: str) -> str | None:
    """The extractor version of an article's stored facts, None when it has none."""
    row = conn.execute("SELECT version FROM facts WHERE article_id=%s", (article_id,)).fetchone()
    return str(row[0]) if row else None


def stamp(conn: Connection) -> tuple[str, str]:
    """(store revision, facts revision): changes whenever any stored facts may have."""
    rows = conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('revision', 'facts_revision')"
    ).fetchall()
    values = {str(k): str(v) for k, v in rows}
    return values.get("revision", "0"), values.get("facts_revision", "0")


def _load(article_id: str, version: str, data: dict[str, Any]) -> Facts:
    return facts_from_dict(article_id, {**data, "version": version})


def read(conn: Connection, article_ids: Sequence[str]) -> dict[str, Facts]:
    """The stored facts of those of `article_ids` that have some."""
    rows = conn.execute(
        "SELECT article_id, version, data FROM facts WHERE article_id = ANY(%s)",
        (list(article_ids),),
    )
    return {a: _load(a, v, d) for a, v, d in rows}


def stale(conn: Connection, version: str) -> list[str]:
    """Ids of the articles with no stored facts or facts of another extractor version."""
    rows = conn.execute(
        "SELECT a.id FROM articles a LEFT JOIN facts f ON f.article_id = a.id"
        " WHERE f.version IS NULL OR f.version <> %s ORDER BY a.id",
        (version,),
    )
    return [r[0] for r in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_people(conn: Connection, name: str) -> list[PersonMention]:
    """Every person whose name contains `name`, ignoring accents and case; newest first."""
    rows = conn.execute(
        "SELECT p.article_id, p.ordinal, a.title, a.published, f.version, f.data"
        " FROM fact_people p JOIN articles a ON a.id = p.article_id"
        " JOIN facts f ON f.article_id = p.article_id"
        " WHERE p.key LIKE %s ESCAPE '\\'"
        " ORDER BY a.published DESC NULLS LAST, a.title, p.article_id, p.ordinal",
        (f"%{_escape_like(fold(name))}%",),
    )
    mentions = []
    for article_id, ordinal, title, published, version, data in rows:
        facts = _load(article_id, version, data)
        if ordinal >= len(facts.people):
            continue  # cannot happen: both rows are written together
        stored_roles = data["people"][ordinal].get("roles", [])
        mentions.append(
            PersonMention(
                article_id=article_id,
                title=title,
                published=published,
                person=facts.people[ordinal],
                facts=facts,
                quotes=tuple(str(r.get("quote", "")) for r in stored_roles),
            )
        )
    return mentions
