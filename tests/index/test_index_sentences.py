"""Sentence vectors: built once per distinct sentence, cached, looked up by the searcher."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.generations import build, current_name
from index.search import Searcher
from ingest.sentences import sentence_spans
from server.pipeline import ingest_paths, update_index

pytestmark = pytest.mark.slow

TEXT = (
    "Il Forum Digitale si è tenuto al Tecnopolo di Bologna il 16 aprile 2024. "
    "Hanno partecipato 320 persone tra imprese, università e centri di ricerca. "
    "Sara Benedetti ha detto che l'intelligenza artificiale cambia i mestieri. "
    "Nel pomeriggio si sono svolti incontri tra imprese e laboratori. "
    "La prossima edizione è prevista per la primavera del 2025."
)


@pytest.fixture
def folder(tmp_path: Path, article_writer) -> Path:
    articles = tmp_path / "articoli"
    article_writer(articles, "forum.txt", "Forum Digitale 2024", TEXT, date="2024-04-17")
    return articles


def ingest(folder: Path, store) -> None:
    # Small overlapping chunks, so neighbouring chunks share sentences.
    ingest_paths([folder], store, chunk_chars=200, chunk_overlap=90)


def chunk_sentences(store) -> list[str]:
    return [c.text[a:b] for c, *_ in store.chunk_rows() for a, b in sentence_spans(c.text)]


def test_each_distinct_sentence_gets_the_vector_of_its_own_text(folder, store, data_dir, e5):
    ingest(folder, store)
    sentences = chunk_sentences(store)
    distinct = list(dict.fromkeys(sentences))
    assert len(distinct) < len(sentences)  # the overlap repeats sentences
    report = build(store, e5, data_dir / "index", sentences=sentence_spans)
    assert report.sentences == len(distinct)
    assert report.embedded == report.chunks + len(distinct)
    folder_meta = data_dir / "index" / report.generation / "meta.json"
    assert json.loads(folder_meta.read_text())["sentences"] == len(distinct)

    searcher = Searcher(data_dir / "index", e5)
    question = "Chi ha parlato di intelligenza artificiale?"
    got = searcher.sentence_similarity(question, [*distinct, "Una frase che non c'è."])
    expected = e5.passages(distinct) @ e5.query(question)[0]
    assert got[-1] is None  # not in the index
    assert np.allclose(np.array(got[:-1], dtype=np.float32), expected, atol=2e-3)
    assert int(np.argmax(expected)) == 2  # the sentence about artificial intelligence


def test_a_rebuild_takes_sentence_vectors_from_the_cache(folder, store, data_dir, e5):
    ingest(folder, store)
    first = build(store, e5, data_dir / "index", sentences=sentence_spans)
    again = build(store, e5, data_dir / "index", sentences=sentence_spans)
    assert again.embedded == 0
    assert again.sentences == first.sentences > 0


def test_an_index_without_sentence_vectors_is_rebuilt_once_to_add_them(folder, store, data_dir, e5):
    index_dir = data_dir / "index"
    ingest(folder, store)
    plain = build(store, e5, index_dir)
    searcher = Searcher(index_dir, e5)
    sentences = list(dict.fromkeys(chunk_sentences(store)))
    assert not searcher.generation().has_sentences
    assert searcher.sentence_similarity("Quando?", sentences) == [None] * len(sentences)
    # Asked to keep them off, the plain index is current.
    assert update_index(store, e5, index_dir, sentence_vectors=False) is None

    added = update_index(store, e5, index_dir)
    assert added is not None
    assert added.embedded == added.sentences == len(sentences)  # chunk vectors were cached
    assert current_name(index_dir) == added.generation != plain.generation
    assert searcher.generation().has_sentences  # picked up without a restart
    assert None not in searcher.sentence_similarity("Quando?", sentences)
    assert update_index(store, e5, index_dir) is None


class CountingQueries:
    """The real e5 embedder, counting the questions it is asked to embed."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.queries: list[str] = []

    def passages(self, texts):
        return self.embedder.passages(texts)

    def query(self, text):
        self.queries.append(text)
        return self.embedder.query(text)


def test_scoring_sentences_after_a_search_does_not_embed_the_question_again(
    folder, store, data_dir, e5
):
    ingest(folder, store)
    build(store, e5, data_dir / "index", sentences=sentence_spans)
    counting = CountingQueries(e5)
    searcher = Searcher(data_dir / "index", counting)
    sentences = list(dict.fromkeys(chunk_sentences(store)))
    question = "Quante persone hanno partecipato al Forum?"
    searcher.search(question, k=3)
    first = searcher.sentence_similarity(question, sentences)
    assert counting.queries == [question]  # the search's vector was reused
    other = "Dove si è tenuto il Forum?"  # never searched: embedded now
    second = searcher.sentence_similarity(other, sentences)
    assert counting.queries == [question, other]
    assert first != second
