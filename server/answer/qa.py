"""One question in, one answer out: follow-up handling, retrieval, answering, timings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from index.store import Mode, Retriever
from index.types import Filters, Hit
from server.answer.answerer import Answer, Answerer, Turn, followup_query, without_connective

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
    searcher: Retriever,
    question: str,
    history: Sequence[Turn],
    k: int,
    mode: Mode,
    filters: Filters | None,
    condenser: Condenser | None,
) -> tuple[list[Hit], dict[str, float]]:
    """Search for `question`, folding in the conversation when it is a follow-up."""
    started = time.perf_counter()
    if history and condenser:
        query = condenser.condense(question, history)
        condensed = time.perf_counter()
        hits = searcher.search(query, k=k, mode=mode, filters=filters)
        timings = {"condense": (condensed - started) * 1000}
        timings["search"] = (time.perf_counter() - condensed) * 1000
        return hits, timings
    context = followup_query(question, history) if history else question
    if context == question:
        hits = searcher.search(question, k=k, mode=mode, filters=filters)
    else:
        hits = followup_search(searcher, question, context, k, mode, filters)
    return hits, {"search": (time.perf_counter() - started) * 1000}


def followup_search(
    searcher: Retriever, question: str, context: str, k: int, mode: Mode, filters: Filters | None
) -> list[Hit]:
    """The hits for a follow-up: the conversation picks the articles, the question the passages.

    Searching the previous question and the follow-up as one query lets the earlier terms
    outweigh the new ones ("Chi ha parlato al panel sul valore condiviso?" then "E quando si
    è svolta la conferenza?" finds the panel again, not the date). So the follow-up is
    searched alone (without its leading "E") and together with the previous question, and
    each passage scores 1/(1 + rank) in each search, plus 1/(1 + rank) of its article among
    the combined search's articles: a passage of the conversation's article that answers
    the new question comes first.
    """
    own = searcher.search(without_connective(question), k=2 * k, mode=mode, filters=filters)
    combined = searcher.search(context, k=k, mode=mode, filters=filters)
    topic: dict[str, float] = {}
    for rank, hit in enumerate(combined):
        topic.setdefault(hit.chunk.article_id, 1 / (1 + rank))
    scores: dict[str, float] = {}
    found: dict[str, Hit] = {}
    for hits in (own, combined):
        for rank, hit in enumerate(hits):
            found.setdefault(hit.chunk.id, hit)  # the follow-up's own hit when in both
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + 1 / (1 + rank)
    for chunk_id, hit in found.items():
        scores[chunk_id] += topic.get(hit.chunk.article_id, 0.0)
    best = sorted(found, key=lambda c: -scores[c])[:k]
    return [replace(found[c], score=scores[c]) for c in best]


def ask(
    searcher: Retriever,
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
    answer = with_republications(answerer.answer(question, hits, history), searcher)
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


def with_republications(answer: Answer, searcher: Retriever) -> Answer:
    """`answer` with each citation listing the other publications of the same news.

    Search finds a near-duplicate group through its original, so a citation quotes the
    original; the republications are named beside it ("also published by").
    """
    citations = tuple(
        replace(c, also_published_by=searcher.also_published(c.article_id))
        for c in answer.citations
    )
    return replace(answer, citations=citations)


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
