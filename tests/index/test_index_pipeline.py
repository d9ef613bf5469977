"""Ingest runs against the real store: idempotent re-ingest, edits, deletions, pruning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from index.docstore import DocStore
from index.generations import build, current_name
from index.search import Searcher
from server.pipeline import IngestReport, ingest_paths, update_index

CHUNK = {"chunk_chars": 1200, "chunk_overlap": 200}


def ingest(paths: list[Path], store: DocStore, *, prune: bool = False) -> IngestReport:
    return ingest_paths(paths, store, do_prune=prune, **CHUNK)


def embedding_rows(store: DocStore) -> int:
    with sqlite3.connect(store.path) as db:
        return int(db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])


def outcome(report: IngestReport) -> tuple[int, int, int, int, int]:
    return (report.added, report.updated, report.unchanged, report.removed, len(report.failed))


def test_first_ingest_adds_every_test_article(test_data_copy, store):
    report = ingest([test_data_copy], store)
    assert outcome(report) == (7, 0, 0, 0, 0)  # 3 JSONL lines and 4 single-article files
    assert store.revision == 5  # one atomic write per file
    titles = {a.title for a in store.articles()}
    assert "Bollettino dei cluster" in titles
    assert "Newsletter: le start-up dell'energia" in titles
    for info in store.articles():
        stored = store.get(info.id)
        rows = [c for c, *_ in store.chunk_rows() if c.article_id == info.id]
        assert len(rows) == info.chunks > 0
        assert all(stored.text[c.start : c.end] == c.text for c in rows)


@pytest.mark.slow
def test_reingesting_the_same_folder_changes_nothing(test_data_copy, store, data_dir, e5):
    index_dir = data_dir / "index"
    ingest([test_data_copy], store)
    first_build = update_index(store, e5, index_dir)
    assert first_build is not None
    assert first_build.chunks == store.counts()[1]
    assert first_build.embedded == first_build.chunks + first_build.sentences
    revision, vectors, generation = store.revision, embedding_rows(store), current_name(index_dir)

    again = ingest([test_data_copy], store)
    assert outcome(again) == (0, 0, 7, 0, 0)
    assert not again.changed
    assert store.revision == revision
    assert update_index(store, e5, index_dir) is None  # the index is not stale
    assert embedding_rows(store) == vectors
    assert current_name(index_dir) == generation

    # A forced rebuild takes every vector from the cache.
    rebuilt = build(store, e5, index_dir)
    assert rebuilt.embedded == 0
    assert rebuilt.chunks == first_build.chunks
    assert embedding_rows(store) == vectors


@pytest.mark.slow
def test_editing_one_file_updates_exactly_that_article(
    tmp_path, store, data_dir, e5, article_writer
):
    folder = tmp_path / "articoli"
    for name, title, text in [
        ("uno.txt", "Primo", "Il cluster della meccanica apre una sede a Bologna."),
        ("due.txt", "Secondo", "Il cluster della salute inaugura un laboratorio a Modena."),
        ("tre.txt", "Terzo", "Il cluster dell'energia presenta un impianto a Ravenna."),
    ]:
        article_writer(
            folder, name, title, text, date="2024-03-01", url=f"https://news.example/{name}"
        )
    ingest([folder], store)
    update_index(store, e5, data_dir / "index")
    before = {a.id: store.get(a.id) for a in store.articles()}
    revision = store.revision

    article_writer(
        folder,
        "due.txt",
        "Secondo",
        "Il cluster della salute inaugura un laboratorio di genomica a Carpi.",
        date="2024-03-01",
        url="https://news.example/due.txt",
    )
    report = ingest([folder], store)
    assert outcome(report) == (0, 1, 2, 0, 0)
    assert store.revision == revision + 1
    after = {a.id: store.get(a.id) for a in store.articles()}
    changed = [i for i in before if before[i].content_hash != after[i].content_hash]
    assert [after[i].title for i in changed] == ["Secondo"]
    assert "genomica a Carpi" in after[changed[0]].text
    for i in before:
        if i not in changed:
            assert after[i] == before[i]

    update = update_index(store, e5, data_dir / "index")
    assert update is not None
    assert update.embedded == 2  # only the edited chunk and its one sentence
    hits = Searcher(data_dir / "index", e5).search("genomica Carpi", k=3, mode="bm25")
    assert [h.title for h in hits] == ["Secondo"]


def test_deleting_a_file_then_pruning_removes_its_articles(test_data_copy, store):
    ingest([test_data_copy], store)
    (test_data_copy / "articoli.jsonl").unlink()

    kept = ingest([test_data_copy], store)
    assert outcome(kept) == (0, 0, 4, 0, 0)
    assert len(store.articles()) == 7  # without --prune nothing is removed

    pruned = ingest([test_data_copy], store, prune=True)
    assert outcome(pruned) == (0, 0, 4, 3, 0)
    assert len(store.articles()) == 4
    assert not any(a.source.endswith("articoli.jsonl") for a in store.articles())
    assert str((test_data_copy / "articoli.jsonl").resolve()) not in store.file_paths()


def test_prune_only_touches_the_folders_it_was_given(tmp_path, store, article_writer):
    first, second = tmp_path / "primo", tmp_path / "secondo"
    gone = article_writer(first, "a.txt", "Da cancellare", "Questo file verrà cancellato.")
    article_writer(second, "b.txt", "Da tenere", "Questo file resta.")
    other = article_writer(tmp_path / "terzo", "c.txt", "Altrove", "Questo file è altrove.")
    ingest([first, second, other], store)
    gone.unlink()
    other.unlink()
    report = ingest([second], store, prune=True)
    assert report.removed == 0  # a.txt and c.txt are outside the pruned folder
    report = ingest([first], store, prune=True)
    assert report.removed == 1
    assert {a.title for a in store.articles()} == {"Da tenere", "Altrove"}


def test_changing_chunk_settings_rechunks_stored_articles(test_data_copy, store):
    ingest([test_data_copy], store)
    report = ingest_paths([test_data_copy], store, chunk_chars=300, chunk_overlap=50)
    assert report.failed == []
    for info in store.articles():
        rows = [c for c, *_ in store.chunk_rows() if c.article_id == info.id]
        assert all(len(c.text) <= 300 for c in rows), info.title
