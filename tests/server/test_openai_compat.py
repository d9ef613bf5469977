"""The OpenAI-compatible endpoints, driven by the official `openai` client over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from index.docstore import DocStore
from server.http.app import create_app
from server.settings import Settings

RESOCONTO_URL = "https://news.clust-er.example/forum-digitale-2024-resoconto"
QUESTION = "Quanti partecipanti ha avuto il Forum Digitale Clust-ER 2024?"
MARKER = re.compile(r"\[(\d+)\]")
READER_KEY = "chiave-lettore"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    thread_server: Callable[..., Any],
) -> Iterator[tuple[str, Settings]]:
    """(base URL, settings) of a real uvicorn over a copy of the index, with a reader key."""
    data = copy_built(tmp_path_factory.mktemp("openai") / "data")
    settings = make_settings(data, api_keys=[READER_KEY])
    with thread_server(create_app(settings)) as server:
        yield server.url, settings


@pytest.fixture
def client(served: tuple[str, Settings]) -> Iterator[openai.OpenAI]:
    """The official client, pointed at our /v1."""
    with openai.OpenAI(
        base_url=f"{served[0]}/v1", api_key=READER_KEY, max_retries=0, timeout=60
    ) as oa:
        yield oa


def check_citations(citations: list[dict[str, Any]], answer: str, db_path: Path) -> None:
    """Quotes are verbatim article slices, and [n] markers match the citations."""
    store = DocStore(db_path)
    try:
        for c in citations:
            assert store.get(c["article_id"]).text[c["start"] : c["end"]] == c["quote"]
            offset = c["start"] - c["passage_start"]
            assert c["passage"][offset : c["end"] - c["passage_start"]] == c["quote"]
    finally:
        store.close()
    assert {int(n) for n in MARKER.findall(answer)} == {c["n"] for c in citations}


def split_sources(content: str) -> tuple[str, list[str]]:
    """The answer text and the numbered source lines appended after "Fonti:"."""
    answer, marker, sources = content.partition("\n\nFonti:\n")
    assert marker, f"no source list in {content!r}"
    return answer, sources.splitlines()


def test_models_lists_clusterchat(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["clusterchat"]
    assert models.data[0].owned_by == "clusterchat"


def test_chat_completion_has_answer_sources_and_citations(
    client: openai.OpenAI, served: tuple[str, Settings]
) -> None:
    completion = client.chat.completions.create(
        model="clusterchat", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.object == "chat.completion"
    assert completion.model == "clusterchat"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    content = choice.message.content or ""
    answer, sources = split_sources(content)
    assert "320" in answer
    extra = completion.model_extra or {}
    citations = extra["citations"]
    assert citations
    assert extra["abstained"] is False
    assert extra["answerer"] == "extractive"
    assert citations[0]["url"] == RESOCONTO_URL
    check_citations(citations, answer, served[1].db_path)
    assert len(sources) == len(citations)
    for line, c in zip(sources, citations, strict=True):
        assert line.startswith(f"[{c['n']}] {c['title']} ({c['date']}) {c['url']}")
        assert " ".join(c["quote"].split()) in line
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_streamed_completion_equals_the_plain_one(
    client: openai.OpenAI, served: tuple[str, Settings]
) -> None:
    messages: Any = [{"role": "user", "content": QUESTION}]
    plain = client.chat.completions.create(model="clusterchat", messages=messages)
    stream = client.chat.completions.create(model="clusterchat", messages=messages, stream=True)
    chunks = list(stream)
    assert len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.id == chunks[0].id and c.object == "chat.completion.chunk" for c in chunks)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    citations = (last.model_extra or {})["citations"]
    assert citations == (plain.model_extra or {})["citations"]
    check_citations(citations, split_sources(content)[0], served[1].db_path)


def test_follow_up_through_messages(client: openai.OpenAI, served: tuple[str, Settings]) -> None:
    completion = client.chat.completions.create(
        model="clusterchat",
        messages=[
            {"role": "system", "content": "Rispondi in italiano."},
            {
                "role": "user",
                "content": "Chi ha parlato nel primo panel del Forum Digitale Clust-ER 2024?",
            },
            {
                "role": "assistant",
                "content": "Nel primo panel sono intervenuti Marco Ferretti e Giulia Sartori.",
            },
            {
                "role": "user",
                "content": [{"type": "text", "text": "E chi ha parlato nel secondo panel?"}],
            },
        ],
    )
    content = completion.choices[0].message.content or ""
    answer, _ = split_sources(content)
    assert "Lanzoni" in answer or "Benedetti" in answer
    citations = (completion.model_extra or {})["citations"]
    assert RESOCONTO_URL in {c["url"] for c in citations}
    check_citations(citations, answer, served[1].db_path)


def test_unanswerable_has_no_sources(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="clusterchat",
        messages=[{"role": "user", "content": "Qual è la ricetta dei tortellini?"}],
    )
    content = completion.choices[0].message.content or ""
    assert "Fonti:" not in content
    assert not MARKER.search(content)
    extra = completion.model_extra or {}
    assert extra["abstained"] is True
    assert extra["citations"] == []


def test_client_errors_map_to_openai_exceptions(served: tuple[str, Settings]) -> None:
    url = f"{served[0]}/v1"
    with (
        openai.OpenAI(base_url=url, api_key="sbagliata", max_retries=0) as wrong,
        pytest.raises(openai.PermissionDeniedError),
    ):
        wrong.chat.completions.create(
            model="clusterchat", messages=[{"role": "user", "content": QUESTION}]
        )
    with openai.OpenAI(base_url=url, api_key=READER_KEY, max_retries=0) as oa:
        with pytest.raises(openai.UnprocessableEntityError) as caught:
            oa.chat.completions.create(
                model="clusterchat", messages=[{"role": "assistant", "content": "Ciao"}]
            )
        # Under /v1/ errors also carry OpenAI's {"error": {"message", "type"}}: the client
        # unwraps it, so the exception says what was wrong.
        body = caught.value.body
        assert isinstance(body, dict)
        assert "user message" in body["message"]
        assert body["type"] == "invalid_request_error"
        assert "user message" in caught.value.message
    missing = httpx.post(
        f"{url}/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}
    )
    assert missing.status_code == 401
    error = missing.json()
    assert error["error"]["type"] == "authentication_error"
    assert error["error"]["message"] == error["detail"]
    # Outside /v1/ the body stays {"detail"} alone.
    assert "error" not in httpx.post(f"{served[0]}/api/ask", json={}).json()
