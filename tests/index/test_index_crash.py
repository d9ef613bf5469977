"""A build killed mid-embedding leaves the previous generation serving; a re-run completes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.docstore import DocStore
from index.generations import current_name, distinct_sentences
from index.search import Searcher
from ingest.sentences import sentence_spans
from server.pipeline import ingest_paths, update_index

pytestmark = pytest.mark.slow
CHUNK = {"chunk_chars": 400, "chunk_overlap": 0}
BUILD = """
import sys
from pathlib import Path
from index.docstore import DocStore
from index.embedder import E5Embedder
from server.pipeline import update_index
data = Path(sys.argv[1])
update_index(DocStore(data / "clusterchat.sqlite3"), E5Embedder(), data / "index")
"""


def long_article(n_paragraphs: int) -> str:
    """Enough distinct ~350-character paragraphs that embedding takes several batches."""
    paragraphs = [
        f"Nel paragrafo {n} il cluster numero {n} racconta che {n * 3} imprese della filiera "
        f"hanno visitato il laboratorio {n} di Bologna, dove i tecnici hanno mostrato {n + 7} "
        f"prototipi di macchine agricole, sensori per l'irrigazione e sistemi di tracciamento "
        f"dei prodotti. L'incontro numero {n} si è chiuso con una discussione sulle competenze "
        f"digitali e sui finanziamenti regionali disponibili per il {2000 + n}."
        for n in range(n_paragraphs)
    ]
    paragraphs[-1] += " Il zafferano di Navelli chiude il bollettino."
    return "\n\n".join(paragraphs)


def embedding_rows(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])


def test_killed_build_keeps_the_previous_generation(tmp_path, e5, article_writer):
    folder, data = tmp_path / "articoli", tmp_path / "data"
    db_path, index_dir = data / "clusterchat.sqlite3", data / "index"
    article_writer(
        folder, "breve.txt", "Nota breve", "Il cluster della salute apre una sede a Modena."
    )
    store = DocStore(db_path)
    try:
        ingest_paths([folder], store, **CHUNK)
        first = update_index(store, e5, index_dir)
        assert first is not None
        previous = current_name(index_dir)
        searcher = Searcher(index_dir, e5)
        assert searcher.search("sede Modena", k=1)[0].title == "Nota breve"

        article_writer(folder, "lungo.txt", "Bollettino lungo", long_article(48))
        ingest_paths([folder], store, **CHUNK)
        new_chunks = store.counts()[1] - 1
        assert new_chunks >= 40  # three batches of 16 at least
        cached = embedding_rows(db_path)
        # Every vector the build needs: the new chunks' and their sentences'.
        sentences = len(distinct_sentences(store.chunk_rows(), sentence_spans))
        needed = cached + new_chunks + sentences - first.sentences

        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-c", BUILD, str(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if embedding_rows(db_path) > cached or any(index_dir.glob(".tmp-gen-*")):
                    break
                time.sleep(0.02)
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        partial = embedding_rows(db_path)
        assert cached < partial < needed  # killed half-way through

        # The old generation is still current and still answers, in this searcher and a new one.
        assert current_name(index_dir) == previous
        for reader in (searcher, Searcher(index_dir, e5)):
            assert reader.generation().name == previous
            assert reader.search("sede Modena", k=1)[0].title == "Nota breve"
            assert reader.search("zafferano Navelli", mode="bm25") == []

        # Running the build again finishes it, reusing the vectors the killed run committed.
        report = update_index(store, e5, index_dir)
        assert report is not None
        assert report.embedded == needed - partial
        assert embedding_rows(db_path) == needed
        assert current_name(index_dir) == report.generation != previous
        assert not list(index_dir.glob(".tmp-*"))
        hits = searcher.search("zafferano di Navelli", k=1)
        assert hits[0].title == "Bollettino lungo"
        assert "zafferano" in hits[0].chunk.text
    finally:
        store.close()
