"""Postgres connections: one per thread, vectors as numpy arrays, the schema checked once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pgvector.psycopg import register_vector

from index.backends.pg_schema import check_schema

Connection = psycopg.Connection[tuple[Any, ...]]
# Candidates the HNSW graph search keeps: above the fusion depth (100), so a filtered
# search still finds its `depth` rows (pgvector 0.8 scans on while filters drop rows).
EF_SEARCH = 200


def connect(url: str) -> Connection:
    """A new autocommit connection with the vector type registered."""
    conn: Connection = psycopg.connect(url, autocommit=True)
    with contextlib.suppress(psycopg.ProgrammingError):
        register_vector(conn)  # fails on a database before `clusterchat migrate`
    conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    return conn


class Connections:
    """One connection per thread (a psycopg connection runs one transaction at a time).

    The schema version is checked on the first connection: a database that is older or
    newer than this code stops the process with SchemaMismatch before anything is read.
    """

    def __init__(self, url: str, *, check: bool = True) -> None:
        self.url = url
        self._local: dict[threading.Thread, Connection] = {}
        self._lock = threading.Lock()
        if check:
            check_schema(self.get())

    def get(self) -> Connection:
        """This thread's connection, opened on first use (and again after it broke)."""
        thread = threading.current_thread()
        conn = self._local.get(thread)
        if conn is None or conn.closed or conn.broken:
            conn = connect(self.url)
            with self._lock:
                for gone in [t for t in self._local if not t.is_alive()]:
                    self._local.pop(gone).close()
                self._local[thread] = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic write on this thread's connection."""
        conn = self.get()
        with conn.transaction():
            yield conn

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns = list(self._local.values())
            self._local.clear()
        for conn in conns:
            conn.close()
