"""The learned span ranker: the shipped model, its spans, and a reproducible fit."""

from __future__ import annotations

import pytest

from scripts.train_spans import exact, fit
from server.answer.evaluate import Question
from server.answer.selector_cues import question_kind
from server.answer.spans import ranker


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        (
            "Quanti dipendenti ha l'azienda?",
            "Con sede a Modena, l'azienda impiega oggi 120 dipendenti e due stabilimenti.",
            "120",
        ),
        (
            "Chi ha fondato la società?",
            "La società è stata fondata nel 1990 da Mario Rossi a Bologna.",
            "Mario Rossi",
        ),
        (
            "Quando è stata fondata la società?",
            "La società è stata fondata nel 1990 da Mario Rossi a Bologna.",
            "1990",
        ),
        (
            "Chi ha moderato il panel?",
            "Il panel è stato moderato da Giulia Bianchi, giornalista del Sole.",
            "Giulia Bianchi",
        ),
    ],
)
def test_the_shipped_model_finds_the_asked_span(question: str, sentence: str, span: str) -> None:
    found = ranker().best(question_kind(question), sentence, question)
    assert found is not None
    assert sentence[found[0] : found[1]] == span


def test_other_questions_get_no_span() -> None:
    assert ranker().best(None, "Il cluster riunisce 80 imprese.", "Perché?") is None


def test_the_same_examples_fit_the_same_model() -> None:
    rows = [
        (
            Question(f"q{n}", f"Quanti soci ha il cluster {n}?", answers=(str(10 + n),)),
            "number",
            f"Il cluster {n} conta oggi {10 + n} soci in regione.",
        )
        for n in range(12)
    ]
    first, second = fit(rows), fit(rows)
    assert first == second
    assert exact("  12 ", ("12",))
    assert first.best("number", "Il cluster 99 conta oggi 42 soci.", "Quanti soci?") == (25, 27)
