"""Answer quality of a question set, by question kind, for one answerer.

Usage: python -m scripts.answers_by_kind --data-dir DIR QUESTIONS.jsonl [--k 5]
       [--answerer extractive|learned]
The kind is the record's `kind` when it has one (events sets), else what the question asks
for (`server.answer.cues.question_kind`: person, date, number, place, or other). It only
uses the evaluation module and the wiring, so an older checkout runs it unchanged
(`PYTHONPATH=OLD_CHECKOUT python -m scripts.answers_by_kind ...`) for a before/after table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from server.answer.cues import question_kind
from server.answer.evaluate import evaluate_answers, load_questions
from server.settings import Settings
from server.wiring import embedder_for, extractive_for, searcher_for


def main(argv: list[str] | None = None) -> int:
    """Print one JSON object: every kind's containment and abstention rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--answerer",
        choices=("extractive", "learned"),
        default="extractive",
        help="the hand-tuned answerer (default) or the learned selector",
    )
    args = parser.parse_args(argv)
    if not args.questions.is_file():
        parser.error(f"{args.questions}: no such question file")
    settings = Settings(data_dir=args.data_dir, answerer=args.answerer)
    searcher = searcher_for(settings, embedder_for(settings))
    answerer = extractive_for(settings, searcher)
    questions = load_questions(args.questions)
    records = [json.loads(line) for line in args.questions.open(encoding="utf-8") if line.strip()]
    kinds: dict[str, list[Any]] = {}
    for q, record in zip(questions, records, strict=True):
        kind = record.get("kind") or question_kind(q.question) or "other"
        kinds.setdefault("all", []).append(q)
        kinds.setdefault(str(kind), []).append(q)
    out: dict[str, dict[str, Any]] = {}
    for kind, asked in sorted(kinds.items()):
        scores = evaluate_answers(searcher, answerer, asked, k=args.k)
        out[kind] = {
            "n": scores.questions,
            "containment": round(scores.containment, 3),
            "abstained_answerable": round(scores.abstained_answerable, 3),
            "abstained_unanswerable": scores.abstained_unanswerable,
            "p50_ms": round(scores.p50_ms, 2),
        }
    sys.stdout.write(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
