"""Italian BM25 tokenising and scoring, and reciprocal rank fusion."""

from __future__ import annotations

import numpy as np
import pytest

from index.lexical import LexicalIndex, tokenize
from index.search import fuse


def test_elisions_are_split_and_the_article_dropped():
    assert tokenize("dell'energia") == tokenize("energia")
    assert tokenize("l'impianto") == tokenize("impianto")
    assert tokenize("nell’industria") == tokenize("industria")  # typographic apostrophe
    assert "dell" not in tokenize("dell'energia")


def test_accents_are_folded():
    assert tokenize("città") == tokenize("citta")
    assert tokenize("attività università") == tokenize("attivita universita")


def test_unaccented_spellings_meet_accented_ones():
    assert tokenize("qualità") == tokenize("qualita")
    assert tokenize("più perché") == tokenize("piu perche") == []


def test_plural_and_singular_meet_after_stemming():
    assert tokenize("progetti") == tokenize("progetto")
    assert tokenize("imprese") == tokenize("impresa")
    assert tokenize("finanziamenti") == tokenize("finanziamento")


def test_stop_words_are_dropped_and_digits_kept():
    assert tokenize("il della per con che non") == []
    assert tokenize("Nel 2024 sono 40 impianti") == [
        *tokenize("2024"),
        *tokenize("40"),
        *tokenize("impianti"),
    ]


DOCS = [
    "La prof.ssa Carla Fontana ha illustrato un'indagine su 90 imprese del territorio.",
    "Il dott. Giulio Neri ha presentato nuovi laboratori per l'energia.",
    "Il cluster agroalimentare lavora sulla filiera del pomodoro da industria.",
]


def test_bm25_finds_a_name():
    index = LexicalIndex.build(DOCS)
    scores = index.scores("Chi è Fontana?")
    assert int(np.argmax(scores)) == 0
    assert scores[0] > 0
    assert scores[1] == scores[2] == 0


def test_bm25_matches_across_inflection_and_elision():
    index = LexicalIndex.build(DOCS)
    scores = index.scores("laboratori dell'energia")
    assert int(np.argmax(scores)) == 1
    assert scores[0] == scores[2] == 0


def test_bm25_unknown_terms_score_zero():
    index = LexicalIndex.build(DOCS)
    np.testing.assert_array_equal(index.scores("zafferano"), np.zeros(3, dtype=np.float32))
    np.testing.assert_array_equal(index.scores("il della"), np.zeros(3, dtype=np.float32))


def test_bm25_survives_save_and_load(tmp_path):
    index = LexicalIndex.build(DOCS)
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", len(DOCS))
    np.testing.assert_allclose(loaded.scores("pomodoro Fontana"), index.scores("pomodoro Fontana"))


def test_idf_is_higher_for_rarer_terms():
    index = LexicalIndex.build([*DOCS, "Il cluster della meccanica.", "Un altro cluster."])
    [cluster, pomodoro, unknown] = index.idf([*tokenize("cluster"), *tokenize("pomodoro"), "zzz"])
    assert unknown > pomodoro > cluster


def test_fuse_adds_reciprocal_ranks():
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    lexical = [(3, 12.0), (1, 4.0)]
    fused = fuse([(1.0, dense), (1.0, lexical)], k=60)
    assert [row for row, _ in fused] == [1, 3, 2]
    scores = dict(fused)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[2] == pytest.approx(1 / 62)


def test_fuse_weights_and_ties():
    dense = [(5, 0.9), (4, 0.8)]
    lexical = [(4, 3.0), (5, 1.0)]
    # Equal weights: both rows tie, and the lower row id comes first.
    assert [row for row, _ in fuse([(1.0, dense), (1.0, lexical)], k=60)] == [4, 5]
    # A zero weight leaves the other ranking's order.
    assert [row for row, _ in fuse([(1.0, dense), (0.0, lexical)], k=60)] == [5, 4]
    assert [row for row, _ in fuse([(0.0, dense), (2.0, lexical)], k=60)] == [4, 5]
    assert fuse([(1.0, []), (1.0, [])], k=60) == []
