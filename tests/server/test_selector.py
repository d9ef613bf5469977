"""The learned answerer (opt-in): its model file, spans first, resolved dates, abstention.

Answers come from a small real index (tests/data articles plus one written here) built with
the bundled e5 model; the API tests build the real app over a copy of the shared data dir,
with CLUSTERCHAT_ANSWERER unset (the hand-tuned default) and set to "learned".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.docstore import DocStore
from index.search import Searcher
from server.answer.answerer import ExtractiveAnswerer
from server.answer.errors import ModelFileError
from server.answer.facts import FactsAnswerer
from server.answer.learned import LearnedAnswerer
from server.answer.selector import FEATURES, MODEL_PATH, Selector
from server.http.app import create_app
from server.pipeline import ingest_paths, update_index
from server.settings import Settings
from server.wiring import build_services, extractive_for, searcher_for
from tests.server.conftest import settings_for

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
FRUTTETO = """---
title: La Frutteto Srl apre un nuovo magazzino a Vignola
date: 2024-05-06
---
La Frutteto Srl, cooperativa di Vignola nata nel 1998, ha inaugurato ieri il nuovo magazzino
frigorifero per le ciliegie. L'azienda impiega 14 persone e conferisce la frutta di 60 soci.
Il magazzino è costato 900.000 euro, finanziati in parte dal programma regionale.
"""


def test_the_model_file_loads_fast_and_names_known_features() -> None:
    start = time.perf_counter()
    selector = Selector.load(MODEL_PATH)
    assert time.perf_counter() - start < 0.5
    assert set(selector.features) <= set(FEATURES)
    assert 0 < selector.threshold < 1
    assert MODEL_PATH.stat().st_size < 300_000  # small and versioned with the code
    assert json.loads(MODEL_PATH.read_text())["version"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("not json", "cannot read"),
        ('{"version": 99}', "not a version 1"),
        ('{"version": 1, "features": ["shoe_size"]}', "unknown features"),
        ('{"version": 1, "features": ["own"], "mean": [0]}', "malformed"),
    ],
)
def test_a_bad_model_file_is_a_clear_error(tmp_path: Path, content, message) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ModelFileError, match=message) as caught:
        Selector.load(path)
    assert str(path) in str(caught.value)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, e5) -> tuple[Settings, Searcher]:
    folder = tmp_path_factory.mktemp("articles")
    (folder / "frutteto.md").write_text(FRUTTETO, encoding="utf-8")
    settings = Settings(data_dir=tmp_path_factory.mktemp("small"), answerer="learned")
    store = DocStore(settings.db_path)
    paths = [TEST_DATA / "bollettino.pdf", TEST_DATA / "nota.txt", folder / "frutteto.md"]
    report = ingest_paths(
        paths, store, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap
    )
    assert not report.failed
    update_index(store, e5, settings.index_dir)
    store.close()
    return settings, searcher_for(settings, e5)


def ask(small, question: str):
    settings, searcher = small
    answerer = extractive_for(settings, searcher)
    assert isinstance(answerer, LearnedAnswerer)
    return answerer.answer(question, searcher.search(question, k=5))


def _article_text(small, article_id: str) -> str:
    store = DocStore(small[0].db_path)
    try:
        return store.get(article_id).text
    finally:
        store.close()


def test_a_date_question_leads_with_the_span_and_its_resolved_date(small) -> None:
    answer = ask(small, "Quando si è svolto il seminario sulla gestione dell'acqua in agricoltura?")
    assert not answer.abstained, answer.text
    assert answer.span is not None
    assert "24 gennaio" in answer.span.text
    # The quote says "Il 24 gennaio"; the bulletin is dated 2024-01-15.
    assert answer.text.startswith(f"{answer.span.text} (24 gennaio 2024) [1].")
    first = answer.citations[0]
    assert first.start <= answer.span.start < answer.span.end <= first.end
    text = _article_text(small, first.article_id)
    assert text[answer.span.start : answer.span.end] == answer.span.text
    assert text[first.start : first.end] == first.quote
    assert first.quote.split()[0] in answer.text  # the quote follows the span
    assert 0 <= (answer.confidence or 0) <= 1


def test_a_fact_stated_in_other_words_is_answered_with_its_number(small) -> None:
    answer = ask(small, "Quanti dipendenti ha la Frutteto Srl?")
    assert not answer.abstained, answer.text
    assert answer.span is not None
    assert answer.span.text.startswith("14")
    assert answer.text.startswith("14")
    assert "impiega 14 persone" in answer.citations[0].quote


def test_a_relative_date_is_followed_by_the_date_it_stands_for(small) -> None:
    answer = ask(small, "Quando è stato inaugurato il magazzino della Frutteto Srl?")
    assert not answer.abstained, answer.text
    assert answer.span is not None
    assert answer.span.text == "ieri"
    assert answer.text.startswith("ieri (5 maggio 2024) [1].")  # published 2024-05-06


@pytest.mark.parametrize(
    "question",
    [
        "Quanti dipendenti ha la NASA?",
        "Dove ha sede la Barilla?",
        "Who is the president of the Italian Space Agency?",
    ],
)
def test_a_question_about_something_no_article_mentions_abstains(small, question) -> None:
    answer = ask(small, question)
    assert answer.abstained, answer.text
    assert answer.citations == ()
    assert answer.span is None
    assert answer.confidence is not None
    assert answer.confidence < Selector.load(MODEL_PATH).threshold


@pytest.fixture(scope="module")
def learned_api(
    tmp_path_factory: pytest.TempPathFactory, copy_built: Callable[[Path], Path]
) -> Iterator[TestClient]:
    """The real app over a copy of the shared data dir, with CLUSTERCHAT_ANSWERER=learned."""
    data = copy_built(tmp_path_factory.mktemp("learned") / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLUSTERCHAT_ANSWERER", "learned")
        settings = settings_for(data)
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_api_returns_the_span_and_the_confidence(learned_api: TestClient) -> None:
    api = learned_api
    body = api.post(
        "/api/ask",
        json={"question": "Quanti partecipanti ha avuto il Forum Digitale Clust-ER 2024?"},
    ).json()
    assert body["abstained"] is False
    assert body["answerer"] == "learned"
    assert body["span"]["text"] == "320"
    first = body["citations"][0]
    assert first["start"] <= body["span"]["start"] < body["span"]["end"] <= first["end"]
    offset = body["span"]["start"] - first["start"]
    assert first["quote"][offset : offset + 3] == "320"
    assert body["answer"].startswith("320 [1].")
    assert 0 <= body["confidence"] <= 1
    refused = api.post("/api/ask", json={"question": "Quanti dipendenti ha la NASA?"}).json()
    assert refused["abstained"] is True
    assert refused["answerer"] == "learned"
    assert refused["span"] is None
    assert 0 <= refused["confidence"] < 1


def test_the_default_is_the_hand_tuned_answerer(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CLUSTERCHAT_ANSWERER", raising=False)
    monkeypatch.delenv("CLUSTERCHAT_ABSTAIN_THRESHOLD", raising=False)
    services = build_services(settings_for(tmp_path / "data"))
    try:
        assert isinstance(services.extractive, ExtractiveAnswerer)
        assert services.extractive.threshold == 0.35
        assert isinstance(services.answerer, FactsAnswerer)
        assert services.answerer.base is services.extractive
    finally:
        services.close()
    body = api.post(
        "/api/ask",
        json={"question": "Quanti partecipanti ha avuto il Forum Digitale Clust-ER 2024?"},
    ).json()
    assert body["abstained"] is False
    assert body["answerer"] == "extractive"
    assert body["span"] is None
    assert body["confidence"] is None


def test_the_learned_answerer_keeps_the_facts_wrapping_and_its_threshold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = Selector.load(MODEL_PATH).threshold
    monkeypatch.setenv("CLUSTERCHAT_ANSWERER", "learned")
    monkeypatch.delenv("CLUSTERCHAT_ABSTAIN_THRESHOLD", raising=False)
    services = build_services(settings_for(tmp_path / "data"))
    try:
        assert isinstance(services.extractive, LearnedAnswerer)
        assert services.extractive.threshold == model
        assert isinstance(services.answerer, FactsAnswerer)
        assert services.answerer.base is services.extractive
    finally:
        services.close()
    monkeypatch.setenv("CLUSTERCHAT_ABSTAIN_THRESHOLD", "0.5")
    services = build_services(settings_for(tmp_path / "data"))
    try:
        assert services.extractive.threshold == 0.5
    finally:
        services.close()
