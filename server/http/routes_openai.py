"""OpenAI-compatible chat completions, so any OpenAI client can ask ClusterChat."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from server.answer.answerer import Answer, Turn
from server.answer.qa import ask, words
from server.http.deps import Reader, ServicesDep
from server.http.routes_answer import ERRORS, check_turns
from server.http.schemas import ChatCompletionIn, citation_out

router = APIRouter(dependencies=[Reader])
MODEL_ID = "clusterchat"
SOURCES = {"it": "Fonti", "en": "Sources"}
ALSO_PUBLISHED = {"it": "Pubblicato anche da", "en": "Also published by"}


def _conversation(body: ChatCompletionIn) -> tuple[str, list[Turn]]:
    turns = [Turn(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise HTTPException(422, "the last message must be a non-empty user message")
    return turns[-1].content, turns[:-1]


def sources_block(answer: Answer) -> str:
    """The numbered source list appended to the content."""
    if not answer.citations:
        return ""
    lines = [f"\n\n{SOURCES.get(answer.language, 'Fonti')}:"]
    for c in answer.citations:
        when = f" ({c.published.isoformat()})" if c.published else ""
        where = f" {c.url}" if c.url else ""
        lines.append(f"[{c.n}] {c.title}{when}{where} — “{' '.join(c.quote.split())}”")
        if c.also_published_by:
            others = "; ".join(f"{r.title} {r.url or r.source}" for r in c.also_published_by)
            lines.append(
                f"    {ALSO_PUBLISHED.get(answer.language, 'Pubblicato anche da')}: {others}"
            )
    return "\n".join(lines)


def _extra(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [citation_out(c).model_dump(mode="json") for c in answer.citations],
        "abstained": answer.abstained,
        "answerer": answer.answerer,
    }


@router.get("/v1/models")
def models() -> dict[str, Any]:
    """The one model this server offers."""
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "clusterchat"}],
    }


@router.post(
    "/v1/chat/completions",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
def chat_completions(body: ChatCompletionIn, services: ServicesDep) -> Any:
    """Answer the last user message; citations in the content and in `citations`."""
    settings = services.settings
    sizes = [len(m.text()) for m in body.messages[:-1]]
    check_turns(services, "messages", len(body.messages), settings.max_messages, sizes)
    question, history = _conversation(body)
    if len(question) > settings.max_question_chars:
        raise HTTPException(
            422,
            f"the question is too long ({len(question)} characters; "
            f"the limit is {settings.max_question_chars})",
        )
    asked = ask(
        services.searcher,
        services.answerer,
        question,
        history=history,
        k=services.settings.top_k,
        mode=services.settings.search_mode,
        condenser=services.llm,
    )
    services.metrics.answered(asked.answer.answerer, asked.answer.abstained)
    content = asked.answer.text + sources_block(asked.answer)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        return StreamingResponse(
            _chunks(completion_id, created, content, asked.answer), media_type="text/event-stream"
        )
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": len(question.split()),
            "completion_tokens": len(content.split()),
            "total_tokens": len(question.split()) + len(content.split()),
        },
        **_extra(asked.answer),
    }


def _chunks(completion_id: str, created: int, content: str, answer: Answer) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    for token in words(content):
        yield chunk({"content": token}, None)
    yield chunk({}, "stop", **_extra(answer))
    yield "data: [DONE]\n\n"
