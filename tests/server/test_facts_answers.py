"""Who-did-what answers composed from extracted facts, through the real API and index."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.docstore import DocStore
from index.embedder import E5Embedder
from index.lexical import tokenize
from server.answer.answerer import Answer, Citation
from server.answer.facts import asked_role, asks_event_date
from server.answer.facts_match import cognates
from server.answer.facts_text import composed_is_quoted, format_dates, with_resolved_dates
from server.http.app import create_app
from server.pipeline import ingest_paths, update_index
from tests.server.conftest import settings_for

EDITION_2023 = """
La Fiera del Legno è tornata a Cesena il 6 giugno 2023 per la terza edizione, con 700 visitatori.

Nel pomeriggio si è tenuto il panel «Boschi e clima». Sul palco Pietro Laghi, direttore del \
Consorzio Forestale Romagnolo, e Irene Zoffoli, ricercatrice dell'Università di Bologna. Ha \
moderato Carlo Benini, giornalista di Legno Oggi.

La tavola rotonda «Mobili circolari» ha riunito Sergio Gardini, direttore di Arredi Gardini, e \
Laura Pieri, designer dello Studio Pieri.
"""

EDITION_2024 = """
La quarta edizione della Fiera del Legno si è svolta a Cesena il 5 giugno 2024 con 900 visitatori.

Il panel «Boschi e clima» è stato il momento più seguito. Ne hanno discusso Anna Rocchi, \
presidente di Legnoverde, e Bruno Vitali, direttore della Segheria Vitali.

Ad aprire i lavori è stata Marta Siboni, presidente del Cluster Legno Romagna.

Il keynote «Reti di imprese per il legno» è stato tenuto da Giorgio Valli. Il panel «Reti \
intelligenti e accumuli nelle segherie» ha riunito Paolo Neri e Lucia Gatti.

Il Premio Legno Giovane è andato a Falegnameria Zani di Faenza: a ritirarlo è stato il \
titolare Luca Zani.
"""


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory,
    e5: E5Embedder,
    article_writer: Callable[..., Path],
) -> Iterator[TestClient]:
    corpus = tmp_path_factory.mktemp("events")
    article_writer(
        corpus, "fiera-2023.txt", "Fiera del Legno 2023 a Cesena", EDITION_2023, date="2023-06-08"
    )
    article_writer(
        corpus, "fiera-2024.txt", "Fiera del Legno 2024 a Cesena", EDITION_2024, date="2024-06-07"
    )
    data = tmp_path_factory.mktemp("facts") / "data"
    settings = settings_for(data)
    store = DocStore(settings.db_path)
    try:
        ingest_paths(
            [corpus], store, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap
        )
        update_index(store, e5, settings.index_dir)
    finally:
        store.close()
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def ask(client: TestClient, question: str) -> dict:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def _quotes_are_verbatim(client: TestClient, body: dict) -> None:
    for citation in body["citations"]:
        assert (
            citation["quote"]
            == citation["passage"][
                citation["start"] - citation["passage_start"] : citation["end"]
                - citation["passage_start"]
            ]
        )


def test_speakers_named_in_the_sentence_after_the_panel(client: TestClient) -> None:
    body = ask(client, "Chi ha parlato al panel su boschi e clima alla Fiera del Legno 2023?")
    assert body["answerer"] == "facts"
    assert "Pietro Laghi" in body["answer"]
    assert "Irene Zoffoli" in body["answer"]
    assert "Anna Rocchi" not in body["answer"]  # the other edition's speakers
    assert {c["title"] for c in body["citations"]} == {"Fiera del Legno 2023 a Cesena"}
    _quotes_are_verbatim(client, body)


def test_a_year_picks_its_edition(client: TestClient) -> None:
    body = ask(client, "Chi è intervenuto al panel Boschi e clima nel 2024?")
    assert "Anna Rocchi" in body["answer"]
    assert "Bruno Vitali" in body["answer"]
    assert "Laghi" not in body["answer"]


def test_english_question_over_italian_article(client: TestClient) -> None:
    body = ask(client, "Who moderated the panel on forests and climate at the 2023 Wood Fair?")
    assert body["answerer"] == "facts"
    assert "Carlo Benini" in body["answer"]
    assert body["answer"].startswith("Moderator")


def test_a_role_the_article_does_not_state_abstains(client: TestClient) -> None:
    body = ask(client, "Chi ha moderato la tavola rotonda sui mobili circolari?")
    assert body["abstained"] is True
    assert body["citations"] == []


def test_which_session_a_person_spoke_at(client: TestClient) -> None:
    body = ask(client, "A quale panel ha partecipato Irene Zoffoli?")
    assert body["answerer"] == "facts"
    assert "Boschi e clima" in body["answer"]


def test_other_questions_go_to_the_sentence_answerer(client: TestClient) -> None:
    body = ask(client, "Quanti visitatori ha avuto la quarta edizione della Fiera del Legno?")
    assert body["answerer"] == "extractive"
    assert "900" in body["answer"]


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("Chi ha parlato al panel sul valore condiviso?", "speaker"),
        ("Chi ha moderato la tavola rotonda?", "moderator"),
        ("Who opened the conference?", "opening"),
        ("Chi ha consegnato il premio?", "award_presenter"),
        ("Chi ha vinto il premio Giovani?", "award_winner"),
        ("Who gave the keynote?", "keynote"),
        ("Quando si è svolta la conferenza?", None),
    ],
)
def test_asked_role(question: str, role: str | None) -> None:
    assert asked_role(question) == role


def _citation(quote: str) -> Citation:
    return Citation(1, "a", "a:0", "t", None, None, quote, 0, len(quote), None, None, quote, 0)


def test_composed_text_must_be_backed_by_its_quotes() -> None:
    quotes = [_citation("Sul palco Pietro Laghi e Irene Zoffoli, al panel «Boschi e clima».")]
    assert composed_is_quoted("Al panel «Boschi e clima» hanno parlato Pietro Laghi [1].", quotes)
    assert not composed_is_quoted(
        "Al panel «Boschi e clima» hanno parlato Anna Rocchi [1].", quotes
    )
    assert not composed_is_quoted("Al panel «Acqua» hanno parlato Pietro Laghi [1].", quotes)


def test_an_edition_no_article_covers_abstains(client: TestClient) -> None:
    body = ask(client, "Chi ha moderato il panel Boschi e clima nell'edizione 2022?")
    assert body["abstained"] is True


def test_event_dates_from_facts(client: TestClient) -> None:
    body = ask(client, "Quando si è svolta la quarta edizione della Fiera del Legno?")
    assert body["answerer"] == "facts"
    assert "5 giugno 2024" in body["answer"]
    assert "Fiera del Legno" in body["citations"][0]["quote"]


def test_a_person_described_by_job_and_organisation(client: TestClient) -> None:
    body = ask(client, "In quale sessione ha parlato la designer dello Studio Pieri?")
    assert body["answerer"] == "facts"
    assert "Mobili circolari" in body["answer"]
    assert "Laura Pieri" in body["answer"]


def test_dates_are_formatted_by_language() -> None:
    days = (date(2024, 6, 7), date(2024, 6, 8))
    assert format_dates(days, "it") == "7 e 8 giugno 2024"
    assert format_dates(days, "en") == "7 and 8 June 2024"
    assert (
        format_dates((date(2024, 5, 31), date(2024, 6, 1)), "it")
        == "31 maggio 2024 e 1 giugno 2024"
    )


def test_a_relative_date_in_a_quoted_answer_is_resolved() -> None:
    quote = "Il tavolo tecnico si terrà martedì prossimo a Modena."
    citation = replace(_citation(quote), published=date(2024, 5, 17))
    answer = Answer(f"{quote} [1]", False, (citation,))
    resolved = with_resolved_dates("Quando si terrà il tavolo tecnico?", answer)
    assert resolved.text.endswith("(martedì prossimo: 21 maggio 2024)")
    # Not a date question: unchanged.
    assert with_resolved_dates("Dove si terrà il tavolo tecnico?", answer) == answer


def test_a_who_answer_lists_its_people(client: TestClient) -> None:
    body = ask(client, "Chi ha parlato al panel su boschi e clima alla Fiera del Legno 2023?")
    people = {p["name"]: p for p in body["people"]}
    assert set(people) == {"Pietro Laghi", "Irene Zoffoli"}
    laghi = people["Pietro Laghi"]
    assert laghi["role"] == "speaker"
    assert laghi["organisation"] == "Consorzio Forestale Romagnolo"
    cited = next(c for c in body["citations"] if c["n"] == laghi["citation"])
    assert "Pietro Laghi" in cited["quote"]


@pytest.mark.parametrize(
    "question",
    [
        "Quale Dottore Chi attrice è stata nominata per un premio nel 2016?",
        "Quando la Conferenza generale della Chiesa si è divisa in due conferenze?",
    ],
)
def test_questions_that_are_not_about_roles_or_event_dates(question: str) -> None:
    # "Chi" inside a name is no question word; a date of something else is no event date.
    assert asked_role(question) is None
    assert not asks_event_date(question)


def test_an_award_winner_is_named_with_the_organisation_it_went_to(client: TestClient) -> None:
    body = ask(client, "Chi ha vinto il Premio Legno Giovane alla Fiera del Legno 2024?")
    assert body["answerer"] == "facts"
    assert "Luca Zani (Falegnameria Zani)" in body["answer"]
    _quotes_are_verbatim(client, body)


def test_a_speaker_question_is_not_about_the_keynote(client: TestClient) -> None:
    # "reti" is in both titles; only the panel has speakers, the keynote has its keynote.
    body = ask(client, "Chi ha parlato di reti e batterie smart per le aziende nel 2024?")
    assert body["answerer"] == "facts"
    assert "Paolo Neri" in body["answer"]
    assert "Lucia Gatti" in body["answer"]
    assert "Giorgio Valli" not in body["answer"]


@pytest.mark.parametrize(
    ("english", "italian", "same"),
    [
        ("electrification", "elettrificazione", True),
        ("efficiency", "efficienza", True),
        ("internationalization", "internazionalizzazione", True),
        ("mobility", "mobilità", True),
        ("regional", "nazionale", False),
        ("digital", "capitale", False),
        ("innovation", "informazione", False),
        ("supply", "supporto", False),
    ],
)
def test_cognates_across_english_and_italian(english: str, italian: str, same: bool) -> None:
    assert cognates(tokenize(english)[0], tokenize(italian)[0]) is same


@pytest.mark.parametrize(
    "question",
    [
        "Chi ha consegnato i premi alla Fiera del Legno 2023?",  # that edition gave none
        "In quale sessione della Fiera del Legno è intervenuta Marta Rossini?",  # not there
    ],
)
def test_what_the_named_event_does_not_state_abstains(client: TestClient, question: str) -> None:
    body = ask(client, question)
    assert body["answerer"] == "facts"
    assert body["abstained"] is True
