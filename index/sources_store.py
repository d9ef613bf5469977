"""SQLite tables of registered news sources (schedule, lease, last fetch) and fetched URLs.

The rows live in the DocStore's file. `sources` holds what `clusterchat sources` lists
and a lease, so that one process at a time refreshes a source; `web_items` holds, per
fetched URL, the validators of its last good fetch (ETag, Last-Modified) and the stamp
its feed or sitemap gave it, so that a refresh asks only for what may have changed.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.docstore import DocStore

TABLES = (
    """CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY, every_s INTEGER NOT NULL, added_at REAL NOT NULL,
    next_due REAL NOT NULL, kind TEXT, last_fetch REAL, last_status TEXT, last_error TEXT,
    counts TEXT NOT NULL DEFAULT '{}', lease_owner TEXT, lease_until REAL NOT NULL DEFAULT 0
)""",
    """CREATE TABLE IF NOT EXISTS web_items (
    url TEXT PRIMARY KEY, kind TEXT NOT NULL, etag TEXT, last_modified TEXT, stamp TEXT,
    chunking TEXT NOT NULL, final_url TEXT, entries TEXT, fetched_at REAL NOT NULL
)""",
)


def create_tables(db: sqlite3.Connection) -> None:
    """Create the tables if missing (a store from before sources gets them on open)."""
    for ddl in TABLES:
        db.execute(ddl)


@dataclass(frozen=True, slots=True)
class Source:
    """A registered source and what its last refresh did."""

    url: str
    every_s: int
    added_at: float
    next_due: float
    kind: str | None = None  # feed, sitemap, html or pdf, once fetched
    last_fetch: float | None = None
    last_status: str | None = None  # "ok", "partial" or "failed"
    last_error: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    lease_until: float = 0.0


@dataclass(frozen=True, slots=True)
class WebItem:
    """What the last good fetch of a URL left to compare the next one with."""

    url: str
    kind: str  # feed, sitemap, html or pdf
    etag: str | None
    last_modified: str | None
    stamp: str | None  # the listing's stamp of a page when it was fetched
    chunking: str  # the chunk settings its articles were cut with
    final_url: str | None
    # A feed's or sitemap's (url, stamp) items, [] for a sitemap index's children: what a
    # 304 for the listing stands for.
    entries: tuple[tuple[str, str | None], ...] = ()


_COLUMNS = (
    "url, every_s, added_at, next_due, kind, last_fetch, last_status, last_error, counts,"
    " lease_until"
)


def _source(row: tuple[Any, ...]) -> Source:
    url, every_s, added_at, next_due, kind, last_fetch, status, error, counts, lease = row
    return Source(
        url, every_s, added_at, next_due, kind, last_fetch, status, error, json.loads(counts), lease
    )


class SourcesStore:
    """Registered sources and fetched-URL validators, in the DocStore's SQLite file."""

    def __init__(self, store: DocStore) -> None:
        self._store = store

    # -- sources --------------------------------------------------------------------------
    def add(self, url: str, every_s: int, now: float) -> bool:
        """Register `url` (due at once); for a registered one, set its interval.

        Returns:
            True when the source is new.
        """
        with self._store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO sources(url, every_s, added_at, next_due) VALUES(?,?,?,?)"
                " ON CONFLICT(url) DO NOTHING",
                (url, every_s, now, now),
            )
            if cursor.rowcount:
                return True
            db.execute("UPDATE sources SET every_s=? WHERE url=?", (every_s, url))
        return False

    def remove(self, url: str) -> bool:
        """Forget a source (its articles stay). False when it was not registered."""
        with self._store.transaction() as db:
            return db.execute("DELETE FROM sources WHERE url=?", (url,)).rowcount > 0

    def get(self, url: str) -> Source | None:
        """One registered source."""
        row = self._store.connection.execute(
            f"SELECT {_COLUMNS} FROM sources WHERE url=?", (url,)
        ).fetchone()
        return _source(row) if row else None

    def all(self) -> list[Source]:
        """Every registered source, in the order they were added."""
        rows = self._store.connection.execute(
            f"SELECT {_COLUMNS} FROM sources ORDER BY added_at, url"
        )
        return [_source(r) for r in rows]

    def due(self, now: float) -> list[str]:
        """Sources whose next refresh is due and that no process holds."""
        rows = self._store.connection.execute(
            "SELECT url FROM sources WHERE next_due <= ? AND lease_until <= ? ORDER BY next_due",
            (now, now),
        )
        return [r[0] for r in rows]

    def claim(self, url: str, owner: str, now: float, lease_s: float, due_only: bool) -> bool:
        """Take the lease on a source, atomically: at most one holder across processes.

        With `due_only`, only a source whose next refresh is due can be taken, so that a
        source another process has just refreshed is not refreshed again.

        Returns:
            True when `owner` now holds the lease (until `now + lease_s` or `finish`).
        """
        due = " AND next_due <= ?" if due_only else ""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE sources SET lease_owner=?, lease_until=? WHERE url=? AND lease_until <= ?"
                + due,
                (owner, now + lease_s, url, now, *((now,) if due_only else ())),
            )
            return cursor.rowcount == 1

    def finish(
        self,
        url: str,
        owner: str,
        now: float,
        *,
        kind: str | None,
        status: str,
        error: str | None,
        counts: dict[str, Any],
    ) -> None:
        """Record a refresh's outcome, schedule the next one and release the lease."""
        with self._store.transaction() as db:
            db.execute(
                "UPDATE sources SET kind=COALESCE(?, kind), last_fetch=?, last_status=?,"
                " last_error=?, counts=?, next_due=? + every_s, lease_owner=NULL,"
                " lease_until=0 WHERE url=? AND lease_owner=?",
                (kind, now, status, error, json.dumps(counts), now, url, owner),
            )

    def release(self, url: str, owner: str) -> None:
        """Give the lease back without recording a refresh (it did not run)."""
        with self._store.transaction() as db:
            db.execute(
                "UPDATE sources SET lease_owner=NULL, lease_until=0 WHERE url=? AND lease_owner=?",
                (url, owner),
            )

    # -- fetched URLs ---------------------------------------------------------------------
    def item(self, url: str) -> WebItem | None:
        """The validators of the last good fetch of `url`."""
        row = self._store.connection.execute(
            "SELECT url, kind, etag, last_modified, stamp, chunking, final_url, entries"
            " FROM web_items WHERE url=?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        entries = tuple((u, s) for u, s in json.loads(row[7] or "[]"))
        url, kind, etag, last_modified, stamp, chunking, final_url = row[:7]
        return WebItem(url, kind, etag, last_modified, stamp, chunking, final_url, entries)

    def put_item(self, item: WebItem, now: float) -> None:
        """Remember a good fetch of `item.url`."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO web_items(url, kind, etag, last_modified, stamp,"
                " chunking, final_url, entries, fetched_at) VALUES(?,?,?,?,?,?,?,?,?)",
                (
                    item.url,
                    item.kind,
                    item.etag,
                    item.last_modified,
                    item.stamp,
                    item.chunking,
                    item.final_url,
                    json.dumps(item.entries),
                    now,
                ),
            )
