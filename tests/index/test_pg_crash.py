"""A Postgres re-index killed at any moment leaves the previous version serving, and the
next run finishes it without embedding again what the killed one embedded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest

from index.backends.pg_index import PgIndex, current_version
from index.backends.pg_search import PgSearcher
from index.backends.postgres import PgStore
from index.errors import IndexNotBuilt
from index.generations import distinct_sentences
from ingest.sentences import sentence_spans
from server.pipeline import ingest_paths, update_index
from tests.index.test_index_crash import CHUNK, long_article

pytestmark = pytest.mark.slow
APP = "clusterchat-crash-test"
BUILD = """
import sys
from index.backends.pg_index import PgIndex
from index.backends.postgres import PgStore
from index.errors import IndexNotBuilt
from index.embedder import E5Embedder
from server.pipeline import update_index
update_index(PgStore(sys.argv[1]), E5Embedder(), PgIndex())
"""


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def start_build(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", BUILD, f"{url}&application_name={APP}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_when(proc: subprocess.Popen[bytes], ready: Any, timeout: float = 180) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (it must still be running then)."""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_killed_postgres_builds_keep_the_previous_version(pg_url, tmp_path, e5, article_writer):
    folder = tmp_path / "articoli"
    article_writer(
        folder, "breve.txt", "Nota breve", "Il cluster della salute apre una sede a Modena."
    )
    store = PgStore(pg_url)
    try:
        ingest_paths([folder], store, **CHUNK)
        first = update_index(store, e5, PgIndex())
        assert first is not None
        searcher = PgSearcher(store, e5)
        assert searcher.search("sede Modena", k=1)[0].title == "Nota breve"

        article_writer(folder, "lungo.txt", "Bollettino lungo", long_article(48))
        ingest_paths([folder], store, **CHUNK)
        new_chunks = store.counts()[1] - 1
        cached = count(pg_url, "SELECT COUNT(*) FROM embeddings")
        sentences = len(distinct_sentences(store.chunk_rows(), sentence_spans))
        needed = cached + new_chunks + sentences - first.sentences

        def serves_the_first_version() -> None:
            for reader in (searcher, PgSearcher(store, e5)):
                assert reader.generation().name == first.generation
                assert reader.search("sede Modena", k=1)[0].title == "Nota breve"
                assert reader.search("zafferano Navelli", mode="bm25") == []
            version = current_version(store.db.get())
            assert version is not None
            newer = f"SELECT COUNT(*) FROM index_chunks WHERE added_in > {version['id']}"
            assert count(pg_url, newer) == 0
            assert count(pg_url, "SELECT COUNT(*) FROM index_versions") == 1

        # 1. Killed while embedding: some vectors are committed, nothing else changed.
        embedding = "SELECT COUNT(*) FROM embeddings"
        kill_when(start_build(pg_url), lambda: count(pg_url, embedding) > cached)
        partial = count(pg_url, embedding)
        assert cached < partial < needed
        serves_the_first_version()

        # 2. Killed inside the switching transaction: every row of the new version written,
        # the pointer update waiting on a row lock this test holds.
        with psycopg.connect(pg_url) as holder:
            holder.execute("SELECT version FROM index_current FOR UPDATE")
            blocked = (
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = "
                f"'{APP}' AND wait_event_type = 'Lock'"
            )
            kill_when(start_build(pg_url), lambda: count(pg_url, blocked) > 0)
            holder.rollback()
        assert count(pg_url, embedding) == needed  # every vector was cached before the switch
        time.sleep(0.5)  # the killed client's backend rolls back once the lock is free
        serves_the_first_version()

        # 3. The next run finishes the work without embedding anything again.
        report = update_index(store, e5, PgIndex())
        assert report is not None
        assert report.embedded == 0
        assert searcher.generation().name == report.generation != first.generation
        hits = searcher.search("zafferano di Navelli", k=1)
        assert hits[0].title == "Bollettino lungo"
        assert "zafferano" in hits[0].chunk.text
    finally:
        store.close()


def test_a_database_without_versions_says_how_to_build_one(pg_url, e5):
    store = PgStore(pg_url)
    try:
        assert current_version(store.db.get()) is None
        assert PgIndex().is_stale(store, e5, sentence_vectors=True)
        with pytest.raises(IndexNotBuilt, match="clusterchat ingest"):
            PgSearcher(store, e5).search("idrogeno")
    finally:
        store.close()
