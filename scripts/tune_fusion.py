"""Grid-search the hybrid fusion on a question set: RRF constant, weights, score fusion.

Usage: python -m scripts.tune_fusion --data-dir DIR QUESTIONS.jsonl
Dense and BM25 rankings are computed once per question (the slow part: one query
embedding each), then every fusion variant is scored offline on the same rankings.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index.search import Searcher, fuse, fuse_scores
from server.answer.evaluate import load_questions
from server.settings import Settings
from server.wiring import embedder_for

logger = logging.getLogger("tune_fusion")
Ranking = list[tuple[int, float]]


def rankings(
    data_dir: Path, questions_path: Path, depth: int
) -> tuple[list[Ranking], list[Ranking], list[set[int]]]:
    """Dense and BM25 rankings (row, score) and the gold rows of every question."""
    settings = Settings(data_dir=data_dir)
    searcher = Searcher(settings.index_dir, embedder_for(settings))  # the embedded backend's
    generation = searcher.generation()
    rows_of: dict[str, list[int]] = {}
    for row, hit in enumerate(generation.hits):
        rows_of.setdefault(hit.chunk.article_id, []).append(row)
    dense, lexical, gold = [], [], []
    questions = [q for q in load_questions(questions_path) if q.answerable and q.doc_id]
    for n, q in enumerate(questions):
        dense.append(generation.dense(searcher.embedder.query(q.question), depth, None))
        lexical.append(generation.bm25(q.question, depth, None))
        gold.append(set(rows_of.get(q.doc_id or "", [])))
        if n % 500 == 0:
            logger.info("%d/%d questions", n, len(questions))
    return dense, lexical, gold


def metrics(ranked: list[Ranking], gold: list[set[int]]) -> dict[str, float]:
    """R@1, R@5, R@20 and MRR@20 over chunk rankings, counted per distinct gold article."""
    r1 = r5 = r20 = mrr = 0.0
    for ranking, rows in zip(ranked, gold, strict=True):
        position = next((i for i, (row, _) in enumerate(ranking[:20]) if row in rows), None)
        if position is None:
            continue
        r1 += position < 1
        r5 += position < 5
        r20 += 1
        mrr += 1 / (position + 1)
    n = len(gold)
    return {"R@1": r1 / n, "R@5": r5 / n, "R@20": r20 / n, "MRR": mrr / n}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per fusion variant, best MRR last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--depth", type=int, default=100)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dense, lexical, gold = rankings(args.data_dir, args.questions, args.depth)
    results = []
    for k in (5, 10, 20, 40, 60):
        for w_bm25 in (0.8, 1.0, 1.2, 1.5, 2.0):
            ranked = [fuse([(1.0, d), (w_bm25, b)], k) for d, b in zip(dense, lexical, strict=True)]
            results.append(
                {"fusion": "rrf", "k": k, "bm25_weight": w_bm25, **metrics(ranked, gold)}
            )
    for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
        ranked = [
            fuse_scores([(alpha, d), (1 - alpha, b)]) for d, b in zip(dense, lexical, strict=True)
        ]
        results.append({"fusion": "minmax", "alpha": alpha, **metrics(ranked, gold)})
    results.append({"fusion": "dense", **metrics(dense, gold)})
    results.append({"fusion": "bm25", **metrics(lexical, gold)})
    results.sort(key=lambda r: r["MRR"])
    for result in results:
        sys.stdout.write(
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
