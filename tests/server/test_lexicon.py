"""What a question asks about, and whether a sentence states it (server.answer.lexicon)."""

from __future__ import annotations

import pytest

from index.lexical import tokenize
from server.answer.cues import find_span
from server.answer.lexicon import Asked


def names(asked: Asked) -> set[str]:
    return {c.name for c in asked.concepts}


@pytest.mark.parametrize(
    ("question", "concepts", "focus"),
    [
        ("Quanti dipendenti ha Adriatica H2?", {"staff"}, "dipendent"),
        ("Quanto costava il biglietto per la conferenza?", {"price", "amount"}, None),
        ("Chi ha moderato il panel sull'idrogeno?", {"moderator"}, None),
        ("Qual è la scadenza del bando?", {"deadline"}, None),
        ("Quanti fondi mette a disposizione il bando?", {"funding", "amount"}, "fond"),
        ("How many people attended the summit?", {"attendance"}, "peopl"),
        ("What was the registration fee?", {"price"}, None),
        # An English counted noun no concept knows cannot be matched to Italian text.
        ("How many panels were there?", set(), None),
        ("Chi ha parlato al panel sul valore condiviso?", set(), None),
        ("Quante imprese hanno partecipato alla missione?", set(), "impres"),
    ],
)
def test_parse_finds_the_concepts_and_the_counted_noun(question, concepts, focus):
    asked = Asked.parse(question)
    assert names(asked) == concepts
    assert asked.focus == focus


def stated(question: str, sentence: str) -> bool:
    tokens = set(tokenize(sentence))
    return Asked.parse(question).stated_in(sentence, tokens | {t[:5] for t in tokens})


def test_a_sentence_about_the_company_does_not_state_its_staff():
    question = "Quanti dipendenti ha Adriatica H2?"
    assert not stated(question, "Adriatica H2 investirà 25 milioni di euro in un elettrolizzatore.")
    assert stated(question, "Adriatica H2 conta oggi 85 dipendenti a Ravenna.")
    assert stated(question, "L'impresa dà lavoro a 85 addetti.")  # in other words


def test_the_counted_noun_must_be_in_the_context():
    question = "Quante imprese hanno partecipato alla missione a Monaco?"
    assert stated(question, "Alla missione hanno preso parte 14 imprese emiliano-romagnole.")
    assert not stated(question, "La missione si è svolta dal 5 al 7 novembre.")


def test_an_amount_question_needs_a_sum_of_money():
    question = "A quanto ammontava il round di finanziamento chiuso da SemeVivo?"
    assert not stated(question, "SemeVivo ha chiuso di recente un round di finanziamento privato.")
    assert stated(question, "SemeVivo ha chiuso un round di finanziamento da 1,2 milioni di euro.")


def test_funding_stated_in_other_words_credits_the_counted_noun():
    asked = Asked.parse("Quanti fondi mette a disposizione il bando?")
    sentence = "Il bando è finanziato con 12,5 milioni di euro dal PR FESR."
    assert asked.focus_credit(sentence) == {"fond"}
    assert asked.focus_credit("Il bando è aperto alle imprese.") == frozenset()


def test_a_deadline_word_next_to_a_date_makes_the_date_a_strong_answer():
    question = "Qual è la scadenza del bando?"
    asked = Asked.parse(question)
    sentence = (
        "Le domande possono essere presentate online fino al 30 settembre 2024. "
        "Un webinar si terrà il 28 maggio 2024."
    )
    span = find_span("date", sentence, question, tokenize(question), asked.near)
    assert span is not None
    assert sentence[span[0] : span[1]] == "30 settembre 2024"
    assert span[2]  # strong: "fino al" stands next to it
    weak = find_span("date", sentence, question, tokenize(question))
    assert weak is not None
    assert not weak[2]  # without the concept, no question term is near


def test_a_place_followed_by_an_article_is_not_a_person():
    sentence = "Si è svolta a Ravenna la Giornata dell'idrogeno, aperta dal dott. Roberto Zanetti."
    question = "Chi ha aperto la Giornata?"
    span = find_span("person", sentence, question, tokenize(question))
    assert span is not None
    assert sentence[span[0] : span[1]] == "dott. Roberto Zanetti"
    names = "Ne hanno parlato Pieter van Dijk e Anna di Stefano."
    span = find_span("person", names, "Chi ne ha parlato?")
    assert span is not None
    assert names[span[0] : span[1]] == "Pieter van Dijk"


def test_a_total_is_not_a_maximum():
    question = "What is the maximum grant per project in the regional call?"
    assert not stated(question, "Il bando è finanziato con 12,5 milioni di euro.")
    assert stated(question, "Ogni progetto riceve un contributo compreso tra 0,5 e 1,5 milioni.")
    assert stated("Qual è il contributo massimo?", "Il contributo massimo è di 100.000 euro.")
