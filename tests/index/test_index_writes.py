"""Writes that must lose nothing: concurrent writers, deletes undone by re-ingest, bad lines."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from index.docstore import DocStore
from server.pipeline import IngestReport, ingest_file, ingest_paths

REPO = Path(__file__).resolve().parents[2]
CHUNK = {"chunk_chars": 1200, "chunk_overlap": 200}


def ingest(paths: list[Path], store: DocStore, *, prune: bool = False) -> IngestReport:
    return ingest_paths(paths, store, do_prune=prune, **CHUNK)


def outcome(report: IngestReport) -> tuple[int, int, int, int, int]:
    return (report.added, report.updated, report.unchanged, report.removed, len(report.failed))


def write_articles(folder: Path, prefix: str, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}-{i}.txt"
        path.write_text(
            f"---\ntitle: Notizia {prefix} numero {i}\ndate: 2024-05-{i % 28 + 1:02d}\n---\n\n"
            + f"Il distretto {prefix} {i} ha accolto {200 + i} visitatori alla fiera. " * 300,
            encoding="utf-8",
        )
        paths.append(path)
    return paths


@pytest.mark.slow
def test_twenty_threads_write_one_store_while_others_read(tmp_path, store):
    files = write_articles(tmp_path / "in", "filo", 20)
    ingest([files[0]], store)  # readers have something to read from the start
    errors: list[BaseException] = []
    reports = [IngestReport() for _ in files]
    done = threading.Event()
    gate = threading.Barrier(len(files) + 4)

    def writer(i: int) -> None:
        try:
            gate.wait()
            ingest_file(files[i], store, reports[i], **CHUNK)
            ingest_file(files[i], store, reports[i], chunk_chars=600, chunk_overlap=100)
        except BaseException as exc:  # collected: the test asserts there are none
            errors.append(exc)

    def reader() -> None:
        try:
            gate.wait()
            while not done.is_set():
                articles, chunks = store.counts()
                assert len(store.articles()) >= articles >= 1
                assert len(store.chunk_rows()) >= chunks >= 1
                store.get(store.articles()[0].id)
                assert store.revision >= 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(len(files))]
    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join(120)
    done.set()
    for thread in readers:
        thread.join(30)
    assert errors == []
    assert all(not r.failed for r in reports), [r.failed for r in reports]
    # Each writer adds its article, then re-chunks it (files[0] was there already).
    assert [outcome(r) for r in reports] == [(0, 1, 1, 0, 0)] + [(1, 1, 0, 0, 0)] * 19
    assert store.counts()[0] == 20
    assert {a.title for a in store.articles()} == {f"Notizia filo numero {i}" for i in range(20)}
    again = ingest_paths(files, store, chunk_chars=600, chunk_overlap=100)
    assert outcome(again) == (0, 0, 20, 0, 0)


def test_another_process_writes_the_same_store_at_the_same_time(tmp_path, store):
    ours = write_articles(tmp_path / "nostri", "nostro", 15)
    theirs = write_articles(tmp_path / "loro", "loro", 15)
    script = (
        "import sys; from pathlib import Path; from index.docstore import DocStore;"
        "from server.pipeline import ingest_paths;"
        "s = DocStore(Path(sys.argv[1]));"
        "r = ingest_paths([Path(sys.argv[2])], s, chunk_chars=1200, chunk_overlap=200);"
        "print(r.added, len(r.failed))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.Popen(
        [sys.executable, "-c", script, str(store.path), str(tmp_path / "loro")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    report = IngestReport()
    for path in ours:
        ingest_file(path, store, report, **CHUNK)
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    assert out.split() == ["15", "0"]
    assert (report.added, report.failed) == (15, [])
    assert store.counts()[0] == 30
    assert len({c.id for c, *_ in store.chunk_rows()}) == store.counts()[1]
    assert outcome(ingest([tmp_path / "nostri", tmp_path / "loro"], store)) == (0, 0, 30, 0, 0)
    assert len(theirs) == 15


def test_a_deleted_article_comes_back_when_its_file_is_ingested_again(tmp_path, store):
    (path,) = write_articles(tmp_path / "in", "ritorno", 1)
    ingest([path], store)
    (info,) = store.articles()
    store.delete(info.id)
    assert store.counts() == (0, 0)
    report = ingest([path], store)
    assert outcome(report) == (1, 0, 0, 0, 0)
    assert [a.id for a in store.articles()] == [info.id]
    assert outcome(ingest([path], store)) == (0, 0, 1, 0, 0)  # and is skipped again after


def test_deleting_one_article_of_a_jsonl_file_brings_back_only_that_one(tmp_path, store):
    path = tmp_path / "righe.jsonl"
    path.write_text(
        "".join(
            f'{{"id": "riga-{i}", "title": "Riga {i}", "text": "Il testo della riga {i}."}}\n'
            for i in range(3)
        ),
        encoding="utf-8",
    )
    ingest([path], store)
    store.delete("riga-1")
    assert outcome(ingest([path], store)) == (1, 0, 2, 0, 0)
    assert sorted(a.id for a in store.articles()) == ["riga-0", "riga-1", "riga-2"]


JSONL_LINES = [
    '{"id": "uno", "title": "Primo", "text": "Il primo articolo parla di meccanica a Bologna."}',
    '{"id": "due", "title": "Secondo", "text": "Il secondo articolo parla di idrogeno a Ravenna."}',
    '{"id": "tre", "title": "Terzo", "text": "Il terzo articolo parla di salute a Modena."}',
]


def test_a_jsonl_line_that_stops_parsing_keeps_its_stored_article(tmp_path, store):
    path = tmp_path / "notizie.jsonl"
    path.write_text("\n".join(JSONL_LINES) + "\n", encoding="utf-8")
    assert outcome(ingest([path], store)) == (3, 0, 0, 0, 0)
    broken = [JSONL_LINES[0], JSONL_LINES[1].replace('"text":', '"text"'), JSONL_LINES[2]]
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")

    report = ingest([path], store, prune=True)
    assert outcome(report) == (0, 0, 2, 0, 1)
    assert report.failed[0][0] == f"{path}:2"
    assert store.get("due").title == "Secondo"  # kept while its line is broken
    assert outcome(ingest([path], store)) == (0, 0, 2, 0, 1)  # still reported, still kept

    fixed = [JSONL_LINES[0], JSONL_LINES[1].replace("idrogeno", "eolico"), JSONL_LINES[2]]
    path.write_text("\n".join(fixed) + "\n", encoding="utf-8")
    assert outcome(ingest([path], store)) == (0, 1, 2, 0, 0)
    assert "eolico" in store.get("due").text

    path.write_text("\n".join([JSONL_LINES[0], JSONL_LINES[2]]) + "\n", encoding="utf-8")
    assert outcome(ingest([path], store)) == (0, 0, 2, 1, 0)  # a line really removed


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("notizie.jsonl", b'{"id": "uno", "title": \n{"id": "tre"\n'),  # every line bad
        ("notizie.jsonl", b""),  # no lines at all
        ("nota.txt", b"Titolo\n\nIl cluster ha \xe8 partito.\n"),  # not UTF-8
        ("nota.txt", b"   \n\n"),  # no text
    ],
)
def test_a_file_that_fails_to_parse_on_reingest_is_never_deleted(tmp_path, store, name, broken):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / name
    if name.endswith(".jsonl"):
        path.write_text("\n".join(JSONL_LINES) + "\n", encoding="utf-8")
    else:
        path.write_text("Nota sul cluster\n\nIl cluster conta 12 imprese.\n", encoding="utf-8")
    ingest([folder], store)
    before = sorted(a.id for a in store.articles())
    assert before
    path.write_bytes(broken)
    report = ingest([folder], store, prune=True)
    assert report.failed
    assert report.removed == 0
    assert sorted(a.id for a in store.articles()) == before
    assert str(path.resolve()) in store.file_paths()
