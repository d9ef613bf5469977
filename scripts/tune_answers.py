"""Grid-search the extractive answerer's weights and abstention threshold on a question set.

Usage: python -m scripts.tune_answers --data-dir DIR QUESTIONS.jsonl [--limit N]
Hits are retrieved once per question; each variant then only re-scores sentences.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from index.types import Hit
from server.answer.answerer import ExtractiveAnswerer, Weights
from server.answer.evaluate import Question, citation_as_hit, load_questions, normalise
from server.settings import Settings
from server.wiring import embedder_for, idf_from, searcher_for

logger = logging.getLogger("tune_answers")


def score(
    answerer: ExtractiveAnswerer, asked: list[tuple[Question, list[Hit]]]
) -> dict[str, float]:
    """Containment (gold string and gold article), and abstention on (un)answerable ones."""
    both = abstained = abstained_bad = answerable = 0
    for question, hits in asked:
        answer = answerer.answer(question.question, hits)
        if not question.answerable:
            abstained_bad += answer.abstained
            continue
        answerable += 1
        abstained += answer.abstained
        text = normalise(answer.text)
        has = any(normalise(a) and normalise(a) in text for a in question.answers)
        cited = any(question.is_gold(citation_as_hit(c)) for c in answer.citations)
        both += has and cited
    unanswerable = len(asked) - answerable
    return {
        "containment": both / max(answerable, 1),
        "abstained_answerable": abstained / max(answerable, 1),
        "abstained_unanswerable": abstained_bad / unanswerable if unanswerable else -1.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per variant, best containment last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--limit", type=int, default=800)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings(data_dir=args.data_dir)
    searcher = searcher_for(settings, embedder_for(settings))
    questions = load_questions(args.questions)[: args.limit]
    asked = [(q, searcher.search(q.question, k=args.k)) for q in questions]
    idf = idf_from(searcher)
    base = Weights()

    def variant(answerer: ExtractiveAnswerer) -> dict[str, Any]:
        return {
            "threshold": answerer.threshold,
            "max_sentences": answerer.max_sentences,
            **asdict(answerer.weights),
            "sentence_similarity": answerer.sentence_similarity is not None,
            **score(answerer, asked),
        }

    similar = searcher.sentence_similarity
    if not searcher.generation().has_sentences:
        logger.warning("the index has no sentence vectors: run `clusterchat reindex` first")

    default = ExtractiveAnswerer(idf).threshold

    def answerer(
        threshold: float = default, sentences: int = 2, by_sentence: bool = True, **weights: Any
    ) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(
            idf,
            threshold=threshold,
            max_sentences=sentences,
            weights=replace(base, **weights),
            sentence_similarity=similar if by_sentence else None,
        )

    grid = itertools.product((1, 2, 3), (0.7, 0.75, 0.8, 0.9), (False, True), (0.3, 0.35, 0.4, 0.5))
    results = [
        variant(answerer(threshold, sentences, companion=companion, companion_needs_span=needs))
        for sentences, companion, needs, threshold in grid
    ]
    # At the default threshold: without the check that the passage states what is asked,
    # with other shares of the context's evidence carried into a sentence's own, and with
    # other similarities above which few shared terms are taken for a paraphrase (1.0: never).
    results.append(variant(answerer(check_stated=False)))
    results += [variant(answerer(carry=carry)) for carry in (0.0, 0.3, 0.7, 0.9)]
    results += [variant(answerer(paraphrase=p)) for p in (0.8, 0.85, 0.88, 0.9)]
    # The weight of dense similarity: each sentence's own (the default), and its passage's.
    results += [
        variant(answerer(threshold, by_sentence=by_sentence, similarity=weight))
        for by_sentence in (True, False)
        for weight in (0.1, 0.2, 0.3, 0.4)
        for threshold in (0.35, 0.4)
        if not (by_sentence and weight == base.similarity)  # those are in the grid
    ]
    results.sort(key=lambda r: r["containment"])
    for result in results:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
