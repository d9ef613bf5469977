"""Read endpoints: health, search, ask (JSON or Server-Sent Events), feedback, examples."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from index.errors import SearchIndexError
from index.store import IndexView, Mode
from index.types import Filters, Hit
from server.answer.answerer import Answer, Turn
from server.answer.qa import ask, retrieve, with_republications, words
from server.http.deps import Reader, ServicesDep
from server.http.schemas import (
    AnswerOut,
    AskIn,
    FeedbackIn,
    FiltersIn,
    HealthOut,
    SearchIn,
    SearchOut,
    answer_out,
    citation_out,
    error_responses,
    hit_out,
)
from server.wiring import Services

logger = logging.getLogger(__name__)
router = APIRouter()
ERRORS = error_responses(
    (400, "bad input"),
    (401, "API key required"),
    (403, "invalid API key"),
    (413, "request body too large"),
    (422, "invalid request"),
    (503, "no index yet"),
)


def _filters(model: FiltersIn | None) -> Filters | None:
    return Filters(model.since, model.until, model.source, model.date_field) if model else None


def _check_question(services: Services, text: str) -> None:
    limit = services.settings.max_question_chars
    if len(text) > limit:
        raise HTTPException(
            422, f"the question is too long ({len(text)} characters; the limit is {limit})"
        )


def check_turns(services: Services, name: str, count: int, most: int, sizes: Sequence[int]) -> None:
    """422 when field `name` has more than `most` entries or an earlier turn is too long.

    `sizes` are the lengths in characters of the turns before the question.
    """
    if count > most:
        raise HTTPException(422, f"{name} has {count} entries; the limit is {most}")
    limit = services.settings.max_turn_chars
    for i, size in enumerate(sizes):
        if size > limit:
            raise HTTPException(
                422, f"{name}[{i}] is too long ({size} characters; the limit is {limit})"
            )


def _history(body: AskIn) -> list[Turn]:
    return [Turn(t.role, t.content) for t in body.history if t.role in ("user", "assistant")]


@router.get("/healthz", response_model=HealthOut, responses={503: ERRORS[503]})
def healthz(services: ServicesDep) -> HealthOut | JSONResponse:
    """Liveness and corpus size; 503 with a reason while there is no usable index."""
    try:
        generation = services.searcher.generation()
    except SearchIndexError as exc:
        return JSONResponse({"detail": str(exc), "status": "unavailable"}, status_code=503)
    return HealthOut(
        status="ok",
        documents=generation.articles,
        chunks=generation.size,
        generation=generation.name,
        embedder=services.embedder.name,
    )


@router.post("/api/search", response_model=SearchOut, dependencies=[Reader], responses=ERRORS)
def search(body: SearchIn, services: ServicesDep) -> SearchOut:
    """The best passages for a query, filtered by date and source before the top-k cut."""
    _check_question(services, body.query)
    mode: Mode = body.mode or services.settings.search_mode
    hits = services.searcher.search(body.query, k=body.k, mode=mode, filters=_filters(body.filters))
    return SearchOut(hits=[hit_out(h) for h in hits])


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _passages(hits: list[Hit]) -> list[dict[str, Any]]:
    """The numbered passages an LLM is given, sent before its tokens (provisional)."""
    return [
        {
            "n": n,
            "article_id": h.chunk.article_id,
            "chunk_id": h.chunk.id,
            "title": h.title,
            "url": h.url,
            "date": h.published.isoformat() if h.published else None,
            "passage": h.chunk.text,
            "passage_start": h.chunk.start,
            "provisional": True,
        }
        for n, h in enumerate(hits, start=1)
    ]


def _events(services: Services, body: AskIn, k: int) -> Iterator[tuple[str, Any]]:
    started = time.perf_counter()
    history = _history(body)
    hits, timings = retrieve(
        services.searcher,
        body.question,
        history,
        k,
        services.settings.search_mode,
        _filters(body.filters),
        services.llm,
    )
    answer: Answer | None = None
    if services.llm is None:
        answer = services.answerer.answer(body.question, hits, history)
        answer = with_republications(answer, services.searcher)
        yield (
            "citations",
            {"citations": [citation_out(c).model_dump(mode="json") for c in answer.citations]},
        )
        for token in words(answer.text):
            yield "token", {"text": token}
    else:
        yield "citations", {"citations": _passages(hits)}
        for item in services.llm.stream(body.question, hits, history):
            if isinstance(item, Answer):
                answer = with_republications(item, services.searcher)
            else:
                yield "token", {"text": item}
    if answer is None:
        raise RuntimeError("the answerer ended without an answer")
    timings["total"] = (time.perf_counter() - started) * 1000
    services.metrics.answered(answer.answerer, answer.abstained)
    yield "done", answer_out(answer, timings).model_dump(mode="json")


def _stream(services: Services, body: AskIn, k: int) -> Iterator[str]:
    try:
        for event, data in _events(services, body, k):
            yield _sse(event, data)
    except (SearchIndexError, ValueError) as exc:
        yield _sse("error", {"detail": str(exc)})
    except Exception:  # the stream has started: report, never drop the connection silently
        logger.exception("answer stream failed")
        yield _sse("error", {"detail": "internal error while answering"})


@router.post(
    "/api/ask",
    response_model=AnswerOut,
    dependencies=[Reader],
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
def ask_route(body: AskIn, request: Request, services: ServicesDep) -> Any:
    """Answer a question with citations; SSE when `stream` is true or Accept asks for it."""
    _check_question(services, body.question)
    sizes = [len(t.content) for t in body.history]
    check_turns(services, "history", len(sizes), services.settings.max_history_turns, sizes)
    k = body.k or services.settings.top_k
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_stream:
        services.searcher.generation()  # fail with 503 before the stream starts
        return StreamingResponse(
            _stream(services, body, k),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    asked = ask(
        services.searcher,
        services.answerer,
        body.question,
        history=_history(body),
        k=k,
        mode=services.settings.search_mode,
        filters=_filters(body.filters),
        condenser=services.llm,
    )
    services.metrics.answered(asked.answer.answerer, asked.answer.abstained)
    return answer_out(asked.answer, asked.timings)


@router.post("/api/feedback", dependencies=[Reader], responses=ERRORS)
def feedback(body: FeedbackIn, services: ServicesDep) -> dict[str, Any]:
    """Store a thumbs up/down on an answer."""
    feedback_id = services.feedback.add(body.question, body.answer, body.rating, body.comment)
    return {"ok": True, "id": feedback_id}


@router.get("/api/examples", dependencies=[Reader])
def examples(services: ServicesDep) -> dict[str, list[str]]:
    """A few example questions drawn from the indexed corpus."""
    return {"questions": example_questions(services)}


def example_questions(services: Services) -> list[str]:
    """Questions about the newest articles' panels and events."""
    try:
        generation = services.searcher.generation()
    except SearchIndexError:
        return []
    return list(_examples(generation))


@lru_cache(maxsize=1)
def _examples(generation: IndexView, limit: int = 4) -> tuple[str, ...]:
    """Computed once per generation (generations never change): not on every page load."""
    questions: list[str] = []
    newest = sorted(
        generation.hits, key=lambda h: (h.published is not None, h.published), reverse=True
    )
    for hit in newest:
        heading = hit.chunk.heading or ""
        if "panel" in heading.lower():
            candidate = f"Chi ha parlato al panel «{heading}»?"
        elif hit.chunk.ordinal == 0:
            candidate = f"Di cosa parla l'articolo «{hit.title}»?"
        else:
            continue
        if candidate not in questions:
            questions.append(candidate)
        if len(questions) == limit:
            break
    return tuple(questions)
