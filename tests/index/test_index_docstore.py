"""The document store: atomic writes, outcomes, revisions and the vector cache (the tests
taking `any_store` run on SQLite and on Postgres)."""

from __future__ import annotations

import sqlite3
from datetime import date

import numpy as np
import pytest

from index.docstore import DocStore
from index.errors import NotFound
from index.store import DocumentStore
from ingest.chunk import chunk
from ingest.types import Article, Chunk, Section, content_hash


def article(article_id: str, text: str, title: str = "Titolo", **extra) -> Article:
    url = extra.get("url")
    published = extra.get("published")
    return Article(
        id=article_id,
        source=extra.get("source", "file.txt"),
        title=title,
        text=text,
        url=url,
        published=published,
        sections=extra.get("sections", ()),
        pages=extra.get("pages", ()),
        content_hash=content_hash(title, text, url, published),
    )


def pair(a: Article) -> tuple[Article, list[Chunk]]:
    return a, chunk(a, size=200, overlap=0)


ONE = article("a1", "Il primo articolo parla di idrogeno. Ha due frasi.")
TWO = article(
    "a2",
    "Il secondo articolo parla di meccanica.",
    title="Secondo",
    published=date(2024, 3, 5),
    url="https://example.org/2",
    sections=(Section(0, "Intro"),),
    pages=(0,),
)


def test_put_reports_added_then_unchanged_without_bumping_the_revision(any_store: DocumentStore):
    assert any_store.revision == 0
    assert any_store.put_file("/f/one.txt", "fp1", [pair(ONE), pair(TWO)]) == {
        "a1": "added",
        "a2": "added",
    }
    assert any_store.revision == 1
    assert any_store.counts() == (2, 2)
    assert any_store.put_file("/f/one.txt", "fp2", [pair(ONE), pair(TWO)]) == {
        "a1": "unchanged",
        "a2": "unchanged",
    }
    assert any_store.revision == 1
    assert any_store.fingerprint("/f/one.txt") == "fp2"
    assert any_store.article_count_for_file("/f/one.txt") == 2


def test_changed_article_is_replaced_whole(any_store: DocumentStore):
    any_store.put_file("/f/one.txt", "fp1", [pair(ONE)])
    longer = article(
        "a1", " ".join(f"Frase numero {n} sul cluster della salute." for n in range(12))
    )
    assert any_store.put_file("/f/one.txt", "fp2", [pair(longer)]) == {"a1": "updated"}
    assert any_store.revision == 2
    stored = any_store.get("a1")
    assert stored.text == longer.text
    rows = [c for c, *_ in any_store.chunk_rows()]
    assert [c.text for c in rows] == [c.text for c in chunk(longer, size=200, overlap=0)]
    assert len(rows) > 1
    assert all(longer.text[c.start : c.end] == c.text for c in rows)


def test_article_no_longer_in_the_file_is_removed(any_store: DocumentStore):
    any_store.put_file("/f/one.txt", "fp1", [pair(ONE), pair(TWO)])
    assert any_store.put_file("/f/one.txt", "fp2", [pair(ONE)]) == {
        "a1": "unchanged",
        "a2": "removed",
    }
    assert any_store.revision == 2
    with pytest.raises(NotFound):
        any_store.get("a2")
    assert any_store.counts() == (1, 1)


def test_delete_removes_the_article_and_its_chunks(any_store: DocumentStore):
    any_store.put_file("/f/one.txt", "fp1", [pair(ONE), pair(TWO)])
    any_store.delete("a2")
    assert any_store.revision == 2
    assert [a.id for a in any_store.articles()] == ["a1"]
    assert {c.article_id for c, *_ in any_store.chunk_rows()} == {"a1"}
    with pytest.raises(NotFound, match="a2"):
        any_store.delete("a2")
    assert any_store.revision == 2


def test_forget_file_removes_its_articles_and_record(any_store: DocumentStore):
    any_store.put_file("/f/one.txt", "fp1", [pair(ONE)])
    any_store.put_file("/f/two.txt", "fp2", [pair(TWO)])
    assert any_store.forget_file("/f/one.txt") == ["a1"]
    assert any_store.file_paths() == ["/f/two.txt"]
    assert any_store.revision == 3
    assert any_store.forget_file("/f/missing.txt") == []
    assert any_store.revision == 3


def test_get_round_trips_metadata_and_survives_reopening(store: DocStore, data_dir):
    store.put_file("/f/two.txt", "fp2", [pair(TWO)])
    store.close()
    reopened = DocStore(data_dir / "clusterchat.sqlite3")
    try:
        got = reopened.get("a2")
        assert got == TWO
        assert got.content_hash == TWO.content_hash
        info = reopened.articles()[0]
        assert (info.id, info.title, info.url, info.published, info.chunks) == (
            "a2",
            "Secondo",
            "https://example.org/2",
            date(2024, 3, 5),
            1,
        )
        assert reopened.revision == 1
    finally:
        reopened.close()


def test_interrupted_transaction_leaves_the_previous_content(store: DocStore):
    store.put_file("/f/one.txt", "fp1", [pair(ONE)])
    before = (store.get("a1"), store.chunk_rows(), store.revision, store.fingerprint("/f/one.txt"))

    def interrupted_write() -> None:
        with store.transaction() as db:
            db.execute("DELETE FROM articles")
            db.execute("DELETE FROM files")
            raise RuntimeError("interrotto")

    with pytest.raises(RuntimeError, match="interrotto"):
        interrupted_write()
    assert (
        store.get("a1"),
        store.chunk_rows(),
        store.revision,
        store.fingerprint("/f/one.txt"),
    ) == before


def test_failed_put_file_changes_nothing(store: DocStore):
    store.put_file("/f/one.txt", "fp1", [pair(ONE)])
    new = article("a1", "Testo nuovo. Con due frasi.")
    bad_chunks = [
        Chunk("a1:0", "a1", 0, "Testo nuovo.", 0, 12),
        Chunk("a1:0", "a1", 1, "Con due frasi.", 13, 27),
    ]  # duplicate id
    with pytest.raises(sqlite3.IntegrityError):
        store.put_file("/f/one.txt", "fp-new", [(new, bad_chunks)])
    assert store.get("a1").text == ONE.text
    assert store.fingerprint("/f/one.txt") == "fp1"
    assert store.revision == 1
    assert store.counts() == (1, 1)


def test_vector_cache_round_trips_per_embedder(any_store: DocumentStore):
    vectors = np.eye(3, 4, dtype=np.float32)
    any_store.cache_vectors("e5", ["k1", "k2", "k3"], vectors)
    found = any_store.cached_vectors("e5", ["k3", "k1", "missing"])
    assert set(found) == {"k1", "k3"}
    np.testing.assert_array_equal(found["k1"], vectors[0])
    np.testing.assert_array_equal(found["k3"], vectors[2])
    assert any_store.cached_vectors("st:other", ["k1"]) == {}
    assert any_store.revision == 0  # the cache is not content


OLD_ARTICLES = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, url TEXT, title TEXT NOT NULL,
    published TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL,
    sections TEXT NOT NULL DEFAULT '[]', pages TEXT NOT NULL DEFAULT '[]',
    file TEXT, updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


def test_a_store_from_before_the_chunking_column_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_ARTICLES)
        old.execute(
            "INSERT INTO articles(id, source, title, text, content_hash) VALUES(?,?,?,?,?)",
            ("old1", "old.txt", "Vecchio", "Un articolo di prima.", "h"),
        )
    old.close()
    store = DocStore(path)
    try:
        assert store.get("old1").text == "Un articolo di prima."
        assert store.put_file("/f/one.txt", "fp1", [pair(ONE)], chunking="1200/200") == {
            "a1": "added"
        }
        # Chunked again under the current settings, not reported unchanged.
        assert store.put_file("/f/one.txt", "fp2", [pair(ONE)], chunking="800/100") == {
            "a1": "updated"
        }
    finally:
        store.close()
    DocStore(path).close()  # opening an upgraded store again is a no-op
