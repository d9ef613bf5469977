"""Member feedback on answers, stored in the data dir's SQLite file or in Postgres."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from index.backends.postgres import PgStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), comment TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


class FeedbackStore:
    """Append-only thumbs up/down with an optional comment."""

    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(
            db_path, timeout=30, check_same_thread=False, isolation_level=None
        )
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def add(self, question: str, answer: str, rating: str, comment: str | None) -> int:
        """Store one rating; returns its id."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO feedback(question, answer, rating, comment) VALUES(?,?,?,?)",
                (question, answer, rating, comment),
            )
        return int(cursor.lastrowid or 0)

    def count(self, rating: str | None = None) -> int:
        """How many ratings are stored (of one kind, if given)."""
        sql, args = "SELECT COUNT(*) FROM feedback", ()  # type: tuple[str, tuple[str, ...]]
        if rating:
            sql, args = sql + " WHERE rating=?", (rating,)
        with self._lock:
            return int(self._db.execute(sql, args).fetchone()[0])


class PgFeedbackStore:
    """The same ratings in the Postgres database of the other servers."""

    def __init__(self, store: PgStore) -> None:
        self._store = store

    def add(self, question: str, answer: str, rating: str, comment: str | None) -> int:
        """Store one rating; returns its id."""
        row = (
            self._store.db.get()
            .execute(
                "INSERT INTO feedback(question, answer, rating, comment) VALUES (%s,%s,%s,%s)"
                " RETURNING id",
                (question, answer, rating, comment),
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def count(self, rating: str | None = None) -> int:
        """How many ratings are stored (of one kind, if given)."""
        row = (
            self._store.db.get()
            .execute(
                "SELECT COUNT(*) FROM feedback WHERE %s::text IS NULL OR rating = %s",
                (rating, rating),
            )
            .fetchone()
        )
        return int(row[0]) if row else 0
