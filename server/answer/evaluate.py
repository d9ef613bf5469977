"""Retrieval evaluation: recall@k and MRR of a question set against the current index."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from index.store import Mode, Retriever
from index.types import Hit
from ingest.types import Chunk


@dataclass(frozen=True, slots=True)
class Question:
    """One evaluation question and how to recognise its gold article."""

    id: str
    question: str
    doc_id: str | None = None  # gold article id (SQuAD-it format)
    # or: gold source file name(s) (demo format; a list when several articles state the fact)
    source: str | tuple[str, ...] | None = None
    answers: tuple[str, ...] = ()
    answerable: bool = True
    lang: str = "it"

    def is_gold(self, hit: Hit) -> bool:
        """True when `hit` comes from the gold article."""
        if self.doc_id is not None:
            return hit.chunk.article_id == self.doc_id
        if self.source is None:
            return False
        names = (self.source,) if isinstance(self.source, str) else self.source
        return Path(hit.source).name in names


# The fields of the question files in use: demo/questions.jsonl, demo/followups.jsonl,
# the SQuAD-it set (doc_id, title) and demo/events (answers_all). `kind`, `title`,
# `answers_all` and `history` are read by other tools and accepted here.
FIELDS = frozenset(
    {"id", "question", "lang", "answerable", "source", "kind", "answers", "answers_all",
     "doc_id", "title", "history"}
)  # fmt: skip


def _strings(record: dict[str, Any], key: str) -> tuple[str, ...]:
    value = record.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"`{key}` must be a list of strings")
    return tuple(value)


def _source(value: object) -> str | tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if value is None or isinstance(value, str):
        return value
    raise ValueError("`source` must be a file name, a list of file names or null")


def _question(record: object, number: int) -> Question:
    if not isinstance(record, dict):
        raise ValueError("a line must be a JSON object")
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise ValueError(
            f"unknown field {', '.join(map(repr, unknown))}; known: {', '.join(sorted(FIELDS))}"
        )
    question, doc_id, answerable = (record.get(k) for k in ("question", "doc_id", "answerable"))
    if not isinstance(question, str) or not question.strip():
        raise ValueError("`question` must be a non-empty string")
    if doc_id is not None and not isinstance(doc_id, str):
        raise ValueError("`doc_id` must be a string")
    if not isinstance(answerable, bool | None):
        raise ValueError("`answerable` must be true or false")
    return Question(
        id=str(record.get("id", number)),
        question=question,
        doc_id=doc_id,
        source=_source(record.get("source")),
        answers=_strings(record, "answers"),
        answerable=answerable is not False,
        lang=str(record.get("lang") or "it"),
    )


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question file in either format.

    Raises:
        ValueError: a line is not valid JSON, lacks `question`, has a field of the wrong
            type or a field no question file uses (a typo such as `article_id` would
            silently score 0); the message names the line.
    """
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(_question(json.loads(line), number))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{path}:{number}: not a question record ({exc})") from exc
    return questions


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0-100) by linear interpolation between the closest ranks.

    Raises:
        ValueError: `values` is empty or `q` is outside [0, 100].
    """
    if not values or not 0 <= q <= 100:
        raise ValueError(f"percentile {q} of {len(values)} values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class RetrievalScores:
    """Recall at 1, 5 and 20, MRR (over the top 20), and search latency."""

    mode: str
    questions: int
    recall_at_1: float
    recall_at_5: float
    recall_at_20: float
    mrr: float
    p50_ms: float
    p95_ms: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


def gold_rank(question: Question, hits: list[Hit]) -> int | None:
    """1-based rank of the first distinct article that is gold, or None."""
    seen: list[str] = []
    for hit in hits:
        if hit.chunk.article_id in seen:
            continue
        seen.append(hit.chunk.article_id)
        if question.is_gold(hit):
            return len(seen)
    return None


def evaluate(
    searcher: Retriever, questions: list[Question], mode: Mode, depth: int = 20
) -> RetrievalScores:
    """Search every answerable question and score where its gold article ranks."""
    asked = [q for q in questions if q.answerable]
    if not asked:
        raise ValueError("the question file has no answerable question")
    ranks: list[int | None] = []
    times: list[float] = []
    for question in asked:
        start = time.perf_counter()
        hits = searcher.search(question.question, k=depth * 3, mode=mode)
        times.append((time.perf_counter() - start) * 1000)
        ranks.append(gold_rank(question, hits))

    def recall(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)

    return RetrievalScores(
        mode=mode,
        questions=len(asked),
        recall_at_1=recall(1),
        recall_at_5=recall(5),
        recall_at_20=recall(depth),
        mrr=sum(1 / r for r in ranks if r is not None and r <= depth) / len(ranks),
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
    )


def normalise(text: str) -> str:
    """SQuAD-style normalisation: lower case, no accents, punctuation or articles."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(r"\b(il|lo|la|i|gli|le|l|un|uno|una|the|a|an)\b", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class AnswerScores:
    """How often answers contain a gold string and cite the gold article; abstention rates."""

    questions: int
    answerable: int
    containment: float  # answerable: answer contains a gold string AND cites the gold article
    contains_gold: float  # answerable: answer text contains a gold string
    cites_gold: float  # answerable: some citation is from the gold article
    abstained_answerable: float
    abstained_unanswerable: float | None  # None when the set has no unanswerable question
    p50_ms: float
    p95_ms: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


def evaluate_answers(
    searcher: Retriever, answerer: Any, questions: list[Question], k: int = 5, mode: Mode = "hybrid"
) -> AnswerScores:
    """Ask every question and check the answer against its gold strings and article."""
    contains = cites = both = abstained_ok = abstained_bad = 0
    times: list[float] = []
    for q in questions:
        hits = searcher.search(q.question, k=k, mode=mode)
        start = time.perf_counter()
        answer = answerer.answer(q.question, hits)
        times.append((time.perf_counter() - start) * 1000)
        if not q.answerable:
            abstained_bad += answer.abstained
            continue
        abstained_ok += answer.abstained
        text = normalise(answer.text)
        has = any(normalise(a) and normalise(a) in text for a in q.answers)
        cited = any(q.is_gold(citation_as_hit(c)) for c in answer.citations)
        contains += has
        cites += cited
        both += has and cited
    answerable = sum(q.answerable for q in questions)
    unanswerable = len(questions) - answerable
    return AnswerScores(
        questions=len(questions),
        answerable=answerable,
        containment=both / max(answerable, 1),
        contains_gold=contains / max(answerable, 1),
        cites_gold=cites / max(answerable, 1),
        abstained_answerable=abstained_ok / max(answerable, 1),
        abstained_unanswerable=abstained_bad / unanswerable if unanswerable else None,
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
    )


def citation_as_hit(citation: Any) -> Hit:
    """A citation viewed as a hit, so `Question.is_gold` can judge it."""
    chunk = Chunk(
        citation.chunk_id, citation.article_id, 0, citation.quote, citation.start, citation.end
    )
    return Hit(chunk, 0.0, citation.title, citation.url, citation.published, citation.source)
