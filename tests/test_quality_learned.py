"""Quality on the demo corpus for the learned answerer (CLUSTERCHAT_ANSWERER=learned).

The hand-tuned default keeps its own gates in tests/test_quality.py. These are the learned
selector's (docs/evaluation.md, "Learned selector (issue 13)"): what it does not yet meet
is marked as a strict xfail, so a change that fixes or breaks one shows. The demo corpus is
embedded once for the module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from index.docstore import DocStore
from index.search import Searcher
from ingest.sentences import sentence_spans
from server.answer.answerer import Turn
from server.answer.evaluate import (
    citation_as_hit,
    evaluate_answers,
    load_questions,
    normalise,
)
from server.answer.learned import LearnedAnswerer
from server.answer.qa import ask
from server.answer.selector import FEATURES, candidates
from server.settings import Settings
from server.wiring import extractive_for

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = load_questions(REPO / "demo" / "questions.jsonl")
FOLLOWUPS = [json.loads(line) for line in (REPO / "demo" / "followups.jsonl").open()]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_index: tuple[Settings, Searcher]) -> tuple[Settings, Searcher]:
    return demo_index


@pytest.fixture(scope="module")
def answerer(demo) -> LearnedAnswerer:
    settings, searcher = demo
    learned = extractive_for(settings.model_copy(update={"answerer": "learned"}), searcher)
    assert isinstance(learned, LearnedAnswerer)
    return learned


def test_demo_answers_contain_the_fact_and_abstain_when_unanswerable(demo, answerer) -> None:
    _, searcher = demo
    scores = evaluate_answers(searcher, answerer, QUESTIONS)
    assert scores.containment >= 0.90
    assert scores.cites_gold >= 0.90
    assert scores.abstained_answerable <= 0.10
    # 10 of 14 abstain (the hand-tuned default: 14); the four others are the xfail near
    # misses below.
    assert scores.abstained_unanswerable is not None
    assert scores.abstained_unanswerable >= 10 / 14


# Near misses the learned selector still answers (issue 13's target, not met: docs/evaluation.md).
# d41 abstained on the selector branch (11 of 14) but is answered on this code base, with
# confidence 0.140 against the model's threshold 0.119: the selector picks a sentence about
# another panel ("Economia circolare nell'edilizia").
STILL_ANSWERED = {"d39", "d40", "d41", "h20"}
NEAR_MISSES = [
    pytest.param(
        q,
        id=q.id,
        marks=pytest.mark.xfail(
            q.id in STILL_ANSWERED, reason="answered by the selector", strict=True
        ),
    )
    for q in QUESTIONS
    if not q.answerable
]


@pytest.mark.parametrize("q", NEAR_MISSES)
def test_a_question_the_articles_do_not_answer_abstains_with_suggestions(demo, answerer, q):
    _, searcher = demo
    hits = searcher.search(q.question, k=5)
    answer = answerer.answer(q.question, hits)
    assert answer.abstained, answer.text
    assert answer.citations == ()
    assert answer.text in (
        "Non ho trovato questa informazione negli articoli.",
        "I could not find this information in the articles.",
    )
    assert [s.article_id for s in answer.suggestions] == list(
        dict.fromkeys(h.chunk.article_id for h in hits)
    )[:3]


def test_a_sentence_that_continues_the_previous_one_can_be_the_answer(demo, answerer):
    _, searcher = demo
    # "La firma è avvenuta a Bologna il 18 giugno 2024" names the agreement only through
    # the sentence before it; another article repeats every term of the question.
    question = (
        "Quando è stato firmato l'accordo tra Clust-ER Health, BioDelta Cluster e Salut Innova?"
    )
    answer = answerer.answer(question, searcher.search(question, k=5))
    assert "18 giugno 2024" in answer.text
    assert any(Path(c.source).name == "accordo-health-europa.txt" for c in answer.citations)


def test_the_same_passage_answers_what_it_states_and_not_what_it_omits(demo, answerer):
    _, searcher = demo
    stated = "Quanto costerà l'elettrolizzatore di Adriatica H2?"
    omitted = "Quanti dipendenti ha Adriatica H2?"
    answer = answerer.answer(stated, searcher.search(stated, k=5))
    assert not answer.abstained
    assert "25 milioni di euro" in answer.text
    assert answerer.answer(omitted, searcher.search(omitted, k=5)).abstained


@pytest.mark.xfail(
    strict=True,
    reason="7 of 9: d06 and d09 name the right speaker but quote a sentence without 'panel'",
)
def test_who_spoke_on_which_panel_names_the_speaker_and_cites_the_panel(demo, answerer) -> None:
    _, searcher = demo
    speakers = [q for q in QUESTIONS if q.lang == "it" and q.id.startswith("d0") and q.answerable]
    right = 0
    for q in speakers:
        answer = answerer.answer(q.question, searcher.search(q.question, k=5))
        named = any(normalise(a) in normalise(answer.text) for a in q.answers)
        cited = any(
            q.is_gold(citation_as_hit(c)) and "panel" in c.quote.lower() for c in answer.citations
        )
        right += named and cited
    assert right >= len(speakers) - 1, f"{right}/{len(speakers)} speaker questions right"


def test_every_quote_is_verbatim_in_its_article(demo, answerer) -> None:
    settings, searcher = demo
    store = DocStore(settings.db_path)
    checked = 0
    for q in QUESTIONS:
        answer = answerer.answer(q.question, searcher.search(q.question, k=5))
        markers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", answer.text)}
        assert markers == {c.n for c in answer.citations}
        for c in answer.citations:
            assert store.get(c.article_id).text[c.start : c.end] == c.quote
            if c.highlight_start is not None:
                assert c.start <= c.highlight_start < c.highlight_end <= c.end
            checked += 1
    store.close()
    assert checked >= 30


def test_english_questions_are_answered_from_italian_articles(demo, answerer) -> None:
    _, searcher = demo
    english = [q for q in QUESTIONS if q.lang == "en" and q.answerable]
    answered = [answerer.answer(q.question, searcher.search(q.question, k=5)) for q in english]
    assert sum(not a.abstained for a in answered) >= len(english) - 1
    assert all(a.language == "en" for a in answered)
    for a in answered:  # English words around the verbatim Italian quote
        if not a.abstained:
            quote = " ".join(a.citations[0].quote.split())
            assert f'The article says (in Italian): "{quote}" [1]' in a.text


@pytest.mark.parametrize("case", FOLLOWUPS, ids=[f["id"] for f in FOLLOWUPS])
def test_followup_without_llm_carries_the_previous_question(demo, answerer, case) -> None:
    _, searcher = demo
    history = [Turn(t["role"], t["content"]) for t in case["history"]]
    asked = ask(searcher, answerer, case["question"], history=history)
    assert not asked.answer.abstained
    assert any(Path(c.source).name == case["source"] for c in asked.answer.citations)
    assert any(normalise(a) in normalise(asked.answer.text) for a in case["answers"])
    alone = ask(searcher, answerer, case["question"])
    assert alone.hits != asked.hits  # the history changed what was retrieved


def test_each_sentence_is_scored_by_its_own_similarity_to_the_question(demo, answerer):
    _, searcher = demo
    assert searcher.generation().has_sentences  # the demo build embeds every sentence
    assert answerer.sentence_similarity == searcher.sentence_similarity  # the default
    question = "Chi ha parlato al panel sul valore condiviso?"
    hits = searcher.search(question, k=5)
    asked: list[tuple[str, list[str]]] = []

    def sentence_cosines(q: str, sentences: Sequence[str]) -> list[float | None]:
        asked.append((q, list(sentences)))
        return searcher.sentence_similarity(q, sentences)

    terms = answerer.terms(question)
    found, matrix = candidates(question, hits, terms, sentence_cosines)
    # One call, with the question and every sentence of every hit.
    assert len(asked) == 1
    assert asked[0][0] == question
    spans = [(r, a, b) for r, hit in enumerate(hits) for a, b in sentence_spans(hit.chunk.text)]
    assert asked[0][1] == [hits[r].chunk.text[a:b] for r, a, b in spans]
    assert [(c.rank, c.start, c.end) for c in found] == spans
    cosines = sentence_cosines(question, asked[0][1])
    assert None not in cosines
    column = matrix[:, FEATURES.index("cosine")]
    assert column.tolist() == pytest.approx(cosines)
    # Sentences of one passage differ: the passage's similarity would give them one value.
    assert len({round(v, 6) for v in column}) > len(hits)
    _, by_passage = candidates(question, hits, terms, None)
    passage = [hits[r].similarity or 0.0 for r, _, _ in spans]
    assert by_passage[:, FEATURES.index("cosine")].tolist() == pytest.approx(passage)


@pytest.mark.parametrize(
    "question",
    [
        "Quanti dipendenti ha la NASA?",  # another company's 120 employees is not an answer
        "Dove ha sede la Barilla?",  # nor another organisation's seat
        "Chi è il sindaco di Parigi?",
    ],
)
def test_a_question_about_something_no_article_mentions_abstains(demo, answerer, question):
    _, searcher = demo
    answer = answerer.answer(question, searcher.search(question, k=5))
    assert answer.abstained, answer.text


def test_a_who_question_leads_with_the_name_inside_the_quote(demo, answerer) -> None:
    _, searcher = demo
    question = "Chi ha parlato al panel sul valore condiviso?"
    answer = answerer.answer(question, searcher.search(question, k=5))
    assert answer.span is not None
    assert answer.span.text == "Elisabetta Bracci"
    assert answer.text.startswith("Elisabetta Bracci [1]. ")
    first = answer.citations[0]
    assert first.start <= answer.span.start < answer.span.end <= first.end
