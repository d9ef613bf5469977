"""Train the answer-span ranker (server/answer/span_model.json) on SQuAD-it training titles.

Usage: python -m scripts.train_spans [--squad-dir DIR] [--check]

For every who / when / how many / where / what-title question of the training titles (the
title split of `scripts.train_answerer`: the same seed, so no validation title is trained on),
the sentence of the gold paragraph that holds a gold string is cut into every run of one to
five words; a run is right when it holds a gold string and is at most three words longer
(the span target of issue 13); the training label is stricter (the run is a gold string), so
that it learns tight spans. A logistic regression (scikit-learn, fixed settings) is fitted
on them. The figures printed are on the validation titles only: how often the top-scored run
is right, against the hand patterns' span (`selector_cues.find_span`) on the same sentences.
The same command writes the same file. `--check` fits and reports without writing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from ingest.sentences import sentence_spans
from scripts.train_answerer import SQUAD, split_titles
from server.answer.evaluate import Question, load_questions, normalise
from server.answer.selector_cues import find_span, question_kind
from server.answer.spans import (
    DENSE,
    HASHED,
    KINDS,
    LIKELY,
    MODEL_PATH,
    SpanRanker,
    bucket,
    candidates,
    dense,
)

logger = logging.getLogger("train_spans")
# The regularisation chosen by `--cv` (4 folds of the training titles, never validation):
# C 0.001 -> 0.474, 0.003 -> 0.486, 0.01 -> 0.490, 0.05 -> 0.474, 0.3 -> 0.430 right spans.
CHOSEN_C = 0.01
CV_GRID = (0.001, 0.003, 0.01, 0.05, 0.3)


def span_ok(span: str | None, answers: tuple[str, ...]) -> bool:
    """The span holds a gold string and is at most three words longer than it."""
    if not span:
        return False
    text = normalise(span)
    return any(
        normalise(a) and normalise(a) in text and len(text.split()) <= len(normalise(a).split()) + 3
        for a in answers
    )


def exact(span: str, answers: tuple[str, ...]) -> bool:
    """The span is a gold string (normalised): the training label, stricter than `span_ok`
    so that the ranker learns tight spans, not the gold string plus neighbours."""
    text = normalise(span)
    return bool(text) and any(text == normalise(a) for a in answers)


def gold_sentence(text: str, answers: tuple[str, ...]) -> str | None:
    """The first sentence of the paragraph that holds a gold string."""
    wanted = [normalise(a) for a in answers if normalise(a)]
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        if any(a in normalise(sentence) for a in wanted):
            return sentence
    return None


def examples(
    questions: list[Question], documents: dict[str, str]
) -> list[tuple[Question, str, str]]:
    """(question, kind, gold sentence) for the typed questions whose sentence is found."""
    out = []
    for q in questions:
        kind = question_kind(q.question)
        if kind not in KINDS or q.doc_id not in documents:
            continue
        sentence = gold_sentence(documents[q.doc_id], q.answers)
        if sentence is not None:
            out.append((q, kind, sentence))
    return out


def fit(train: list[tuple[Question, str, str]], C: float = CHOSEN_C) -> SpanRanker:
    """A logistic regression over every candidate run of the training sentences."""
    xs: list[Any] = []
    ys: list[bool] = []
    for q, kind, sentence in train:
        found = candidates(kind, sentence, q.question)
        if not found:
            continue
        rows, cols, vals = [], [], []
        for r, c in enumerate(found):
            for k in c.keys:
                rows.append(r)
                cols.append(DENSE + bucket(k))
                vals.append(1.0)
        words = sparse.csr_matrix((vals, (rows, cols)), shape=(len(found), DENSE + HASHED))
        base = sparse.csr_matrix(dense(kind, [c.row for c in found]))
        base.resize((len(found), DENSE + HASHED))
        xs.append(base + words)
        ys.extend(exact(sentence[c.start : c.end], q.answers) for c in found)
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    model.fit(sparse.vstack(xs).tocsr(), np.asarray(ys, dtype=np.int64))
    return SpanRanker(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))


def report(ranker: SpanRanker, rows: list[tuple[Question, str, str]]) -> dict[str, Any]:
    """Right top span (learned and hand patterns) on the gold sentences, by kind."""
    tally: dict[str, list[list[bool]]] = defaultdict(lambda: [[], [], []])
    for q, kind, sentence in rows:
        best = ranker.best(kind, sentence, q.question)
        learned = span_ok(sentence[best[0] : best[1]] if best else None, q.answers)
        hand = find_span(kind, sentence, q.question)
        pattern = span_ok(sentence[hand[0] : hand[1]] if hand else None, q.answers)
        lead = hand[:2] if hand else ranker.best(kind, sentence, q.question, at_least=LIKELY)
        shipped = span_ok(sentence[lead[0] : lead[1]] if lead else None, q.answers)
        for key in ("all", kind):
            tally[key][0].append(learned)
            tally[key][1].append(pattern)
            tally[key][2].append(shipped)
    return {
        key: {
            "n": len(v[0]),
            "learned": round(float(np.mean(v[0])), 3),
            "patterns": round(float(np.mean(v[1])), 3),
            "patterns_then_learned": round(float(np.mean(v[2])), 3),
        }
        for key, v in sorted(tally.items())
    }


def cross_validate(
    train: list[tuple[Question, str, str]], title_of: dict[str, str]
) -> dict[float, float]:
    """Mean right-span share over 4 folds of the training titles, for each C of the grid."""
    names = sorted({title_of[q.id] for q, _, _ in train})
    folds = [set(names[i::4]) for i in range(4)]
    out = {}
    for c in CV_GRID:
        shares = []
        for fold in folds:
            fitted = fit([r for r in train if title_of[r[0].id] not in fold], c)
            held = [r for r in train if title_of[r[0].id] in fold]
            shares.append(report(fitted, held)["all"]["learned"])
        out[c] = round(float(np.mean(shares)), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    """Fit on the training titles, report on the validation titles, write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-dir", type=Path, default=SQUAD)
    parser.add_argument("--check", action="store_true", help="report only; write nothing")
    parser.add_argument("--cv", action="store_true", help="choose C on the training titles")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    questions = load_questions(args.squad_dir / "questions.jsonl")
    documents, titles = {}, {}
    with (args.squad_dir / "documents.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            documents[doc["id"]] = doc["text"]
            titles[doc["id"]] = doc["title"]
    by_question = {q.id: titles.get(q.doc_id or "", "") for q in questions}
    validation = split_titles(questions, by_question)
    rows = examples(questions, documents)
    train = [r for r in rows if by_question[r[0].id] not in validation]
    held = [r for r in rows if by_question[r[0].id] in validation]
    logger.info("%d training and %d validation sentences", len(train), len(held))
    if args.cv:
        sys.stdout.write(json.dumps({"cv": cross_validate(train, by_question)}) + "\n")
    ranker = fit(train)
    sys.stdout.write(json.dumps({"validation": report(ranker, held)}, indent=1) + "\n")
    if not args.check:
        MODEL_PATH.write_text(ranker.to_json() + "\n", encoding="utf-8")
        logger.info("wrote %s", MODEL_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
