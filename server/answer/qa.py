"""One question in, one answer out: follow-up handling, retrieval, answering, timings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from index.search import Mode, Searcher
from index.types import Filters, Hit
from server.answer.answerer import Answer, Answerer, Turn, followup_query

logger = logging.getLogger(__name__)


class Condenser(Protocol):
    """Rewrites a follow-up into a standalone question (the LLM answerer does)."""

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """A standalone question for retrieval."""
        ...


@dataclass(frozen=True, slots=True)
class Asked:
    """An answer with the hits it came from and how long each step took."""

    answer: Answer
    hits: list[Hit]
    timings: dict[str, float]


def retrieve(
    searcher: Searcher,
    question: str,
    history: Sequence[Turn],
    k: int,
    mode: Mode,
    filters: Filters | None,
    condenser: Condenser | None,
) -> tuple[list[Hit], dict[str, float]]:
    """Search for `question`, folding in the conversation when it is a follow-up."""
    started = time.perf_counter()
    query = question
    if history:
        query = (
            condenser.condense(question, history)
            if condenser
            else followup_query(question, history)
        )
    condensed = time.perf_counter()
    hits = searcher.search(query, k=k, mode=mode, filters=filters)
    searched = time.perf_counter()
    timings = {"search": (searched - condensed) * 1000}
    if history and condenser:
        timings["condense"] = (condensed - started) * 1000
    return hits, timings


def ask(
    searcher: Searcher,
    answerer: Answerer,
    question: str,
    *,
    history: Sequence[Turn] = (),
    k: int = 5,
    mode: Mode = "hybrid",
    filters: Filters | None = None,
    condenser: Condenser | None = None,
) -> Asked:
    """Retrieve and answer; logs one line per question (k, top score, ms), no text."""
    started = time.perf_counter()
    hits, timings = retrieve(searcher, question, history, k, mode, filters, condenser)
    before = time.perf_counter()
    answer = answerer.answer(question, hits, history)
    timings["answer"] = (time.perf_counter() - before) * 1000
    timings["total"] = (time.perf_counter() - started) * 1000
    logger.info(
        "question answered: k=%d top=%.4f abstained=%s answerer=%s %.1f ms",
        k,
        hits[0].score if hits else 0.0,
        answer.abstained,
        answer.answerer,
        timings["total"],
    )
    return Asked(answer, hits, timings)


def words(text: str) -> Iterator[str]:
    """Split a finished answer into word-sized tokens for streaming (spaces kept)."""
    token = ""
    for ch in text:
        token += ch
        if ch == " ":
            yield token
            token = ""
    if token:
        yield token
