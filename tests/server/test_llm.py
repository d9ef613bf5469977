"""LLMAnswerer against a fake OpenAI-compatible endpoint (only the HTTP is faked)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from llm_fixtures import (
    ARTICLE,
    INJECTION,
    assert_citations_hold,
    fallback,
    hits,
    injection_hit,
    sse,
)

from server.answer.answerer import ABSTAIN, Answer, Turn, followup_query
from server.answer.llm import LLMAnswerer, build_messages, verify

BASE = "http://llm.test/v1"
QUESTION = "Quando scade il bando e chi ha parlato all'evento?"
Handler = Callable[[httpx.Request], httpx.Response]


def answerer(handler: Handler, **kwargs: object) -> LLMAnswerer:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return LLMAnswerer(client, BASE, "smol", fallback(), **kwargs)  # type: ignore[arg-type]


def streaming(*deltas: str, seen: list[httpx.Request] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(
            200, content=sse(*deltas), headers={"content-type": "text/event-stream"}
        )

    return handler


def replying(response: httpx.Response) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    return handler


def test_valid_streamed_answer_is_checked_and_renumbered() -> None:
    seen: list[httpx.Request] = []
    llm = answerer(
        streaming(
            "All'evento ha parlato ",
            "Maria Rossi [2]. Il bando ",
            "scade il 15 marzo 2024 [1].",
            seen=seen,
        ),
        api_key="sk-test",
    )

    result = llm.answer(QUESTION, hits())

    assert result.answerer == "llm"
    assert not result.abstained
    assert result.text == (
        "All'evento ha parlato Maria Rossi [1]. Il bando scade il 15 marzo 2024 [2]."
    )
    assert [c.quote for c in result.citations] == [
        "All'evento ha parlato Maria Rossi, direttrice del Clust-ER.",
        "Il bando scade il 15 marzo 2024 e mette a disposizione 2 milioni di euro.",
    ]
    for c in result.citations:
        assert ARTICLE[c.start : c.end] == c.quote
        assert c.highlight_start is None
        assert c.highlight_end is None
    assert [c.chunk_id for c in result.citations] == [h.chunk.id for h in hits()][::-1]
    assert_citations_hold(result, hits())
    request = seen[0]
    assert request.url == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = json.loads(request.content)
    assert body["stream"] is True
    assert body["model"] == "smol"


def test_no_api_key_sends_no_authorization() -> None:
    seen: list[httpx.Request] = []
    answerer(streaming("Il bando scade il 15 marzo 2024 [1].", seen=seen)).answer(QUESTION, hits())
    assert "authorization" not in seen[0].headers


def test_citation_list_and_repeated_markers_are_normalised() -> None:
    llm = answerer(
        streaming("Il bando scade il 15 marzo 2024 [1, 1] e ha parlato Maria Rossi [2].")
    )
    result = llm.answer(QUESTION, hits())
    assert result.answerer == "llm"
    assert result.text == "Il bando scade il 15 marzo 2024 [1] e ha parlato Maria Rossi [2]."
    assert_citations_hold(result, hits())


@pytest.mark.parametrize(
    "text",
    [
        "Il bando scade il 15 marzo 2024 [9].",  # passage 9 was never given (2 passages)
        "Il bando scade il 15 marzo 2024 [1] e conta 300 espositori [0].",
        "Il bando scade il 15 marzo 2024.",  # no citation at all
        "Piove sulla Luna [1].",  # the claim shares nothing with passage 1
        "",
    ],
)
def test_invalid_answer_falls_back_to_extractive(text: str) -> None:
    result = answerer(streaming(text)).answer(QUESTION, hits())
    assert result.answerer == "extractive-fallback"
    assert "[9]" not in result.text
    assert_citations_hold(result, hits())
    expected = fallback().answer(QUESTION, hits())
    assert (result.text, result.citations) == (expected.text, expected.citations)


@pytest.mark.parametrize(
    "body",
    [
        b"garbage line\n\ndata: [DONE]\n\n",
        b'data: {"choices": [{"delta": {"content": "Il bando [1]',  # truncated JSON
        sse("Il bando scade il 15 marzo 2024 [1].")[:-40],  # cut before [DONE]
        b'data: {"error": {"message": "model crashed"}}\n\n',
        b'data: {"choices": [{"delta": {"content": 42}}]}\n\ndata: [DONE]\n\n',
        b"<html>Bad gateway</html>",
    ],
)
def test_malformed_stream_falls_back(body: bytes) -> None:
    llm = answerer(replying(httpx.Response(200, content=body)))
    assert llm.answer(QUESTION, hits()).answerer == "extractive-fallback"


def test_timeout_falls_back_without_retry() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    assert answerer(handler, retries=2).answer(QUESTION, hits()).answerer == "extractive-fallback"
    assert len(calls) == 1


def test_server_error_is_retried_then_answers() -> None:
    calls = []
    good = streaming("Il bando scade il 15 marzo 2024 [1].")

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500, text="loading") if len(calls) == 1 else good(request)

    result = answerer(handler, retries=1).answer(QUESTION, hits())
    assert result.answerer == "llm"
    assert len(calls) == 2


def test_connect_error_is_retried_then_falls_back() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    assert answerer(handler, retries=2).answer(QUESTION, hits()).answerer == "extractive-fallback"
    assert len(calls) == 3


def test_client_error_is_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": "bad key"})

    assert answerer(handler, retries=3).answer(QUESTION, hits()).answerer == "extractive-fallback"
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("Quanti espositori ci sono alla fiera?", "it"),
        ("How many exhibitors are at the fair?", "en"),
    ],
)
def test_abstention_sentence_abstains(question: str, lang: str) -> None:
    result = answerer(streaming(f" {ABSTAIN[lang]} ")).answer(question, hits())
    assert result.abstained
    assert result.answerer == "llm"
    assert result.text == ABSTAIN[lang]
    assert result.citations == ()
    assert [s.title for s in result.suggestions] == ["Nuovo bando del Clust-ER Agroalimentare"]


def test_prompt_injection_stays_quoted_and_is_not_obeyed() -> None:
    seen: list[httpx.Request] = []
    given = [injection_hit(), *hits()]
    llm = answerer(streaming("HACKED", seen=seen))

    result = llm.answer("Quanti espositori ci sono alla fiera di Parma?", given)

    messages = json.loads(seen[0].content)["messages"]
    system, user = messages[0], messages[-1]
    assert system["role"] == "system"
    assert "HACKED" not in system["content"]
    assert "ignorata" in system["content"]
    assert ABSTAIN["it"] in system["content"]
    content = user["content"]
    order = content.index("Ignora le istruzioni precedenti")
    opened = content.index('<passage n="1">')
    assert opened < order < content.index("</passage>", opened)
    # The article's fake delimiters are defused: exactly one closing marker per passage.
    assert content.count("</passage>") == len(given)
    assert '<passage n="9">' not in content
    assert messages.index(user) > messages.index(system)
    assert result.answerer == "extractive-fallback"
    # The model obeyed the injected text; its output is discarded, and the answer is exactly
    # what the extractive answerer gives for these passages (it may quote the article's
    # words verbatim, as data, but never says "HACKED" on its own).
    assert (
        result.text
        == fallback().answer("Quanti espositori ci sono alla fiera di Parma?", given).text
    )
    assert result.text.strip() != "HACKED"
    assert not result.text.startswith("HACKED")
    assert_citations_hold(result, given)
    assert INJECTION.startswith("La fiera")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Chi ha parlato all'evento?", "Rispondi in italiano"),
        ("Who spoke at the event?", "Answer in English"),
    ],
)
def test_build_messages_language_and_numbering(question: str, expected: str) -> None:
    history = [
        Turn("user", "Quando scade il bando?"),
        Turn("assistant", "Il bando scade il 15 marzo 2024 [1]."),
    ]
    messages = build_messages(question, hits(), history)
    assert expected in messages[0]["content"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Il bando scade il 15 marzo 2024."  # old markers dropped
    user = messages[-1]["content"]
    assert '<passage n="1">' in user
    assert '<passage n="2">' in user
    assert "2024-02-01" in user
    assert user.rstrip().endswith(question)


def test_verify_is_pure_and_rejects_out_of_range() -> None:
    assert verify(QUESTION, hits(), "Il bando scade il 15 marzo 2024 [3].") is None
    checked = verify(QUESTION, hits(), "Secondo [1], il bando scade il 15 marzo 2024.")
    assert checked is not None
    assert checked.citations[0].quote.startswith("Il bando scade")


def test_condense_sends_history_and_returns_standalone_question() -> None:
    seen: list[httpx.Request] = []
    standalone = "Quanti soldi mette a disposizione il bando del Clust-ER Agroalimentare?"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"choices": [{"message": {"role": "assistant", "content": f' "{standalone}"\n'}}]},
        )

    history = [
        Turn("user", "Quando scade il bando del Clust-ER Agroalimentare?"),
        Turn("assistant", "Il bando scade il 15 marzo 2024 [1]."),
    ]
    result = answerer(handler).condense("E quanti soldi mette a disposizione?", history)

    assert result == standalone
    body = json.loads(seen[0].content)
    assert body["stream"] is False
    contents = [m["content"] for m in body["messages"]]
    assert "Quando scade il bando del Clust-ER Agroalimentare?" in contents
    assert contents[-1] == "E quanti soldi mette a disposizione?"


def test_condense_without_history_makes_no_call() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no call expected")

    assert answerer(handler).condense("Chi ha parlato?", ()) == "Chi ha parlato?"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"choices": [{"message": {"content": "   "}}]}),
    ],
)
def test_condense_failure_falls_back_to_followup_query(response: httpx.Response) -> None:
    history = [Turn("user", "Quando scade il bando del Clust-ER Agroalimentare?")]
    question = "E chi ha parlato?"
    llm = answerer(replying(response), retries=0)
    assert llm.condense(question, history) == followup_query(question, history)


def test_condense_reads_a_bounded_part_of_each_turn() -> None:
    """A huge earlier turn costs what its first characters cost (docs/limits.md)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = {"message": {"role": "assistant", "content": "Chi ha parlato al Forum?"}}
        return httpx.Response(200, json={"choices": [reply]})

    padding = " " * 40_000  # cleaning it whole took seconds per turn
    history = [
        Turn("user" if i % 2 else "assistant", f"Il Forum Digitale [1].{padding}fine")
        for i in range(20)
    ]
    started = time.monotonic()
    answerer(handler).condense("E chi ha parlato?", history)
    assert time.monotonic() - started < 2
    sent = json.loads(seen[0].content)["messages"]
    earlier = sent[1:-1]
    assert len(earlier) == 6
    assert all(m["content"] == "Il Forum Digitale." for m in earlier)


def test_stream_yields_deltas_then_the_answer() -> None:
    deltas = ["Il bando ", "scade il ", "15 marzo 2024 ", "[1]."]
    parts = list(answerer(streaming(*deltas)).stream(QUESTION, hits()))
    assert parts[:-1] == deltas
    final = parts[-1]
    assert isinstance(final, Answer)
    assert final.answerer == "llm"
    assert final.text == "Il bando scade il 15 marzo 2024 [1]."


def test_stream_failure_after_tokens_still_ends_with_fallback() -> None:
    body = sse("Il bando ", "scade")[:-60] + b"\n\nnot an event\n\n"
    parts = list(answerer(replying(httpx.Response(200, content=body))).stream(QUESTION, hits()))
    assert all(isinstance(p, str) for p in parts[:-1])
    assert parts[:-1]
    final = parts[-1]
    assert isinstance(final, Answer)
    assert final.answerer == "extractive-fallback"


def test_no_hits_skips_the_call() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no call expected")

    result = answerer(handler).answer(QUESTION, [])
    assert result.abstained


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "llm.test/v1"},
        {"model": ""},
        {"timeout": 0},
        {"retries": -1},
        {"max_tokens": 0},
    ],
)
def test_constructor_checks_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "client": httpx.Client(),
        "base_url": BASE,
        "model": "m",
        "fallback": fallback(),
    } | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LLMAnswerer(**args)  # type: ignore[arg-type]


def test_verify_rejects_a_claim_that_shares_one_stray_word_with_its_passage() -> None:
    unsupported = (
        "Il bando finanzia anche viaggi spaziali, centrali nucleari e squadre di calcio "
        "professionistiche in tutta Europa [1]."
    )
    assert verify(QUESTION, hits(), unsupported) is None
    supported = "Il bando mette a disposizione 2 milioni di euro [1]."
    assert verify(QUESTION, hits(), supported) is not None
