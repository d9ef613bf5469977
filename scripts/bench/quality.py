"""Figure 5: retrieval and extractive answer quality on the base set."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from index.embedders import Embedder
from scripts.bench.common import Plan, file_name
from server.answer.evaluate import Question, evaluate, evaluate_answers
from server.settings import Settings
from server.wiring import extractive_for, searcher_for

logger = logging.getLogger(__name__)


def gold_by_file(questions: Sequence[Question], doc_ids: set[str]) -> list[Question]:
    """Questions on the base documents, gold judged by source file (the .txt ids differ)."""
    return [
        replace(q, doc_id=None, source=file_name(q.doc_id))
        for q in questions
        if q.doc_id is not None and q.doc_id in doc_ids
    ]


def bench_quality(
    plan: Plan, settings: Settings, embedder: Embedder, questions: Sequence[Question]
) -> dict[str, Any]:
    """Recall@1/5/20 and MRR per mode, and the extractive answers, on the base folder."""
    asked = list(questions if plan.eval_questions is None else questions[: plan.eval_questions])
    searcher = searcher_for(settings, embedder)
    retrieval = {}
    for mode in ("hybrid", "dense", "bm25"):
        retrieval[mode] = evaluate(searcher, asked, mode).as_dict()
        logger.info("quality %s: R@5 %.3f", mode, retrieval[mode]["recall_at_5"])
    answerer = extractive_for(settings, searcher)
    answers = evaluate_answers(
        searcher, answerer, asked, k=settings.top_k, mode=settings.search_mode
    ).as_dict()
    logger.info("quality answers: containment %.3f", answers["containment"])
    return {"questions": len(asked), "retrieval": retrieval, "answers": answers}
