"""Train the answer selector (server/answer/selector_model.json) from labelled questions.

Usage: python -m scripts.train_answerer [--squad-dir DIR] [--demo-dir DIR] [--events-a-dir DIR]
       [--events-b-dir DIR] [--cache FILE] [--compare]

Each question is searched once (10 hits). Its candidates are the sentences of the first 5
hits (labelled 1 when the sentence is from the gold article and holds a gold string), and,
as a negative, the sentences of the first 5 hits of other articles (all 0), so abstention is
learned. SQuAD-it titles are split by a fixed seed into 16 training and 8 validation titles;
figures are reported on validation titles only. The demo and events dev sets train too.
Candidate features are cached (`--cache`), so a second run only fits. The same command
writes the same model file. `--compare` also fits gradient boosting and the ablations.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from scripts.answer_figures import (
    Groups,
    curve,
    figures,
    finish,
    fit_boosting,
    fit_logistic,
    plot_curve,
)
from server.answer.evaluate import Question, load_questions, normalise
from server.answer.learned import question_terms
from server.answer.selector import (
    FEATURES,
    GROUPS,
    MODEL_PATH,
    Selector,
    candidates,
    unknown_name,
)
from server.answer.selector_cues import question_kind
from server.answer.spans import lead_span
from server.settings import Settings
from server.wiring import embedder_for, idf_from, searcher_for

logger = logging.getLogger("train_answerer")
REPO = Path(__file__).resolve().parent.parent
SQUAD = REPO.parent / "shared" / "eval" / "squad_it_dev"
SEED = 13
VALIDATION_TITLES = 8
CHOSEN = "boosting"  # docs/evaluation.md: why, from the --compare figures
MAX_ABSTAIN = 0.075  # chosen point: the lowest-risk threshold within the 8% target, with margin


@dataclass
class Rows:
    """Candidate features and labels, one group per (question, hit set)."""

    x: list[np.ndarray[Any, Any]] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)


def split_titles(questions: list[Question], titles: dict[str, str]) -> set[str]:
    """The validation titles: a fixed-seed shuffle of the sorted titles."""
    names = sorted({titles[q.id] for q in questions})
    random.Random(SEED).shuffle(names)
    return set(names[:VALIDATION_TITLES])


def _span_ok(span: str | None, answers: tuple[str, ...]) -> bool:
    """The span holds a gold string and is at most three words longer than it."""
    if not span:
        return False
    text = normalise(span)
    return any(
        normalise(a) and normalise(a) in text and len(text.split()) <= len(normalise(a).split()) + 3
        for a in answers
    )


def collect(data_dir: Path, questions: list[Question], part: str, split: dict[str, str]) -> Rows:
    """Search every question and describe its candidates."""
    settings = Settings(data_dir=data_dir)
    searcher = searcher_for(settings, embedder_for(settings))
    idf = idf_from(searcher)
    rows = Rows()
    for number, q in enumerate(questions):
        if number % 500 == 0:
            logger.info("%s: %d of %d questions", part, number, len(questions))
        hits = searcher.search(q.question, k=10)
        gold = [h for h in hits if q.is_gold(h)] if q.answerable else []
        sets = [("retrieved", hits[:5])]
        if q.answerable:
            sets.append(("other", [h for h in hits if not q.is_gold(h)][:5]))
        terms = question_terms(q.question, idf)
        for kind, chosen in sets:
            found, matrix = candidates(q.question, chosen, terms, searcher.sentence_similarity)
            answers = [normalise(a) for a in q.answers if normalise(a)]
            has = [any(a in normalise(c.sentence) for a in answers) for c in found]
            is_gold = [bool(gold) and q.is_gold(c.hit) for c in found]
            # The span an answer would lead with (the learned span ranker, else the pattern's).
            kind_asked = question_kind(q.question)
            leads = [lead_span(kind_asked, c.sentence, q.question, c.span) for c in found]
            spans = [
                c.sentence[s[0] : s[1]] if s else None for c, s in zip(found, leads, strict=True)
            ]
            rows.x.append(matrix)
            rows.meta.append(
                {
                    "id": q.id,
                    "part": part,
                    "split": split.get(q.id, "train"),
                    "set": kind,
                    "answerable": q.answerable and kind == "retrieved",
                    "kind": question_kind(q.question) or "other",
                    "lang": q.lang,
                    "has": has,
                    "gold": is_gold,
                    "span_ok": [_span_ok(s, q.answers) for s in spans],
                    "has_span": [s is not None for s in spans],
                    # the answerer abstains on these before scoring (`unknown_name`)
                    "unknown": unknown_name(q.question, chosen, idf) is not None,
                }
            )
    return rows


PARTS = ("squad-validation", "squad-train", "demo", "events-a", "events-b")


def _questions(args: argparse.Namespace, part: str) -> tuple[Path | None, list[Question]]:
    """A part's data folder and questions; SQuAD-it training keeps every other question."""
    if part.startswith("squad"):
        squad = load_questions(args.squad / "questions.jsonl")
        records = map(json.loads, (args.squad / "questions.jsonl").open(encoding="utf-8"))
        titles = {r["id"]: r["title"] for r in records}
        validation = split_titles(squad, titles)
        if part == "squad-validation":
            return args.squad_dir, [q for q in squad if titles[q.id] in validation]
        train = [q for q in squad if titles[q.id] not in validation]
        return args.squad_dir, train[:: args.train_step]
    folder = {"demo": "", "events-a": "events/dev-a/", "events-b": "events/dev-b/"}[part]
    data_dir = {"demo": args.demo_dir, "events-a": args.events_a_dir}.get(part, args.events_b_dir)
    return data_dir, load_questions(REPO / "demo" / f"{folder}questions.jsonl")


def load_part(args: argparse.Namespace, part: str) -> Rows | None:
    """One part's candidates, from its cache file when there, else collected and cached."""
    cache = args.cache / f"{part}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as cached:
            matrices = [cached[f"x{i}"] for i in range(int(cached["n"]))]
        return Rows(matrices, json.loads(cache.with_suffix(".json").read_text("utf-8")))
    data_dir, questions = _questions(args, part)
    if data_dir is None:
        return None
    split = "validation" if part == "squad-validation" else "train"
    rows = collect(
        data_dir,
        questions,
        part.split("-")[0] if part.startswith("squad") else part,
        {q.id: split for q in questions},
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {f"x{i}": m for i, m in enumerate(rows.x)}
    np.savez_compressed(cache, n=np.int64(len(rows.x)), **arrays)
    cache.with_suffix(".json").write_text(json.dumps(rows.meta), encoding="utf-8")
    return rows


def load_rows(args: argparse.Namespace) -> Rows:
    """Candidates of every question set (`--parts` collects only those and stops)."""
    rows = Rows()
    for part in args.parts or PARTS:
        more = load_part(args, part)
        if more is not None:
            rows.x += more.x
            rows.meta += more.meta
    return rows


def write_validation(squad: Path, out: Path) -> None:
    """The validation titles' questions, as a question file."""
    records = [json.loads(line) for line in (squad / "questions.jsonl").open(encoding="utf-8")]
    questions = load_questions(squad / "questions.jsonl")
    validation = split_titles(questions, {r["id"]: r["title"] for r in records})
    kept = [r for r in records if r["title"] in validation]
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), "utf-8")
    by_kind: dict[str, list[str]] = {}
    for r in kept:  # one file per question kind, for `clusterchat eval` by kind
        kind = question_kind(r["question"]) or "other"
        by_kind.setdefault(kind, []).append(json.dumps(r, ensure_ascii=False) + "\n")
    for kind, lines in by_kind.items():
        out.with_suffix(f".{kind}.jsonl").write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Fit, report validation figures, write the model file and the curve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD-it questions folder")
    parser.add_argument("--squad-dir", type=Path, default=Path("/work/data-squad"))
    parser.add_argument("--demo-dir", type=Path, default=None)
    parser.add_argument("--events-a-dir", type=Path, default=None)
    parser.add_argument("--events-b-dir", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/clusterchat-selector"))
    parser.add_argument("--train-step", type=int, default=2, help="keep every n-th question")
    parser.add_argument(
        "--parts", nargs="*", choices=PARTS, help="only collect these parts' candidates, then stop"
    )
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--curve", type=Path, default=REPO / "docs" / "selector_curve.png")
    parser.add_argument("--compare", action="store_true", help="also boosting and ablations")
    parser.add_argument(
        "--validation-out",
        type=Path,
        default=Path("/tmp/clusterchat-squad-validation.jsonl"),
        help="where to write the validation titles' questions (for `clusterchat eval`)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.squad_dir.exists():
        parser.error(f"{args.squad_dir}: no such data folder (ingest SQuAD-it into it first)")
    write_validation(args.squad, args.validation_out)
    rows = load_rows(args)
    if args.parts:
        return 0
    groups = Groups.of(rows.x, rows.meta)
    selector, report = fit(groups, FEATURES, CHOSEN)
    args.model.write_text(selector.to_json(), encoding="utf-8")
    plot_curve(curve(groups, selector, "validation"), selector.threshold, args.curve)
    out = {"model": str(args.model), "kind": CHOSEN, **report}
    if args.compare:
        out["compare"] = compare(groups)
    sys.stdout.write(json.dumps(out, indent=1) + "\n")
    return 0


def fit(
    groups: Groups, features: tuple[str, ...], kind: str, **changes: Any
) -> tuple[Selector, dict[str, Any]]:
    """A calibrated model of `kind` on the training groups, with its threshold and figures."""
    start = time.perf_counter()
    if kind == "logistic":
        selector = fit_logistic(groups, features, max_abstain=MAX_ABSTAIN)
    else:
        selector = fit_boosting(groups, features, max_abstain=MAX_ABSTAIN)
    seconds = time.perf_counter() - start
    if changes:  # a decision rule changed after fitting: choose the threshold again
        selector = replace(selector, **changes)
        selector = finish(groups, selector.scores, selector, MAX_ABSTAIN)
    return selector, {
        "fit_s": round(seconds, 1),
        **figures(groups, selector.scores, selector),
    }


def compare(groups: Groups) -> dict[str, Any]:
    """The other model kind, the ablations, and the answer without the stated-check."""
    other = "logistic" if CHOSEN == "boosting" else "boosting"
    out: dict[str, Any] = {other: fit(groups, FEATURES, other)[1]}
    for name, columns in GROUPS.items():
        kept = tuple(f for f in FEATURES if f not in columns)
        out[f"{CHOSEN} without {name} features"] = fit(groups, kept, CHOSEN)[1]
    out[f"{CHOSEN} without the stated-check"] = fit(groups, FEATURES, CHOSEN, check_stated=False)[1]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
