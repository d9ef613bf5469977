"""A learned ranker of answer spans inside a chosen sentence: who, when, how many, where.

The hand patterns of `server.answer.selector_cues` find a capitalised two-word name, a date, a
number or "a/in + Place"; translated encyclopaedia answers are often one word, an
organisation, a common noun or a number written out. Here every run of one to five words of
the sentence is a candidate, described by what it looks like (capitals, digits, a month, the
pattern of the asked kind), where it stands (next to the question's words, after a
preposition) and whether the question already holds it; a logistic model fitted by
`python -m scripts.train_spans` on the SQuAD-it training titles scores them, one weight set
per asked kind. The model is a small JSON file next to this module.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.lexical import tokenize
from server.answer.cues import _MONTH, _YEAR
from server.answer.selector_cues import PATTERNS

MODEL_PATH = Path(__file__).with_name("span_model.json")
KINDS = ("person", "date", "number", "place", "title")
MAX_WORDS = 5
# Columns: the features once for every kind and once per kind, then hashed word keys.
HASHED = 4096

_WORD = re.compile(r"\w+(?:[.,/-]\w+)*%?")
# Between two words of one candidate: spaces, an elision or a hyphen, nothing else.
_JOIN = re.compile(r"[\s'’-]*")
_MONTH_RE = re.compile(rf"^(?:{_MONTH})$", re.I)
_STOP = frozenset(
    """il lo la i gli le l un uno una di del dello della dei degli delle d a al allo alla ai
    agli alle da dal dallo dalla dai dagli dalle in nel nello nella nei negli nelle su sul
    sullo sulla sui sugli sulle con per tra fra e ed o che è sono ha hanno come anche non si
    the of and to in on at by for from with""".split()  # noqa: SIM905
)
_PLACE_PREP = frozenset("a ad in nel nella nello presso al alla at to".split())  # noqa: SIM905
_AGENT_PREP = frozenset("da dal dalla dallo dai by".split())  # noqa: SIM905
_TIME_PREP = frozenset("nel dal fino entro il del tra fra dopo prima in".split())  # noqa: SIM905

FEATURES: tuple[str, ...] = (
    "bias",
    "words_1",
    "words_2",
    "words_3",
    "words_4plus",
    "first_capital",
    "all_capital",
    "has_digit",
    "is_year",
    "has_month",
    "pattern_exact",
    "pattern_inside",
    "pattern_overlap",
    "in_question",
    "starts_stop",
    "ends_stop",
    "left_terms",
    "right_terms",
    "near_term",
    "distance",
    "after_place_prep",
    "after_agent_prep",
    "after_time_prep",
    "before_punct",
    "after_punct",
    "position",
    "sentence_start",
)
DENSE = len(FEATURES) * (len(KINDS) + 1)
LIKELY = 0.5


@dataclass(frozen=True, slots=True)
class SpanCandidate:
    """A run of words of the sentence (offsets into it), its feature row and its word keys."""

    start: int
    end: int
    row: tuple[float, ...]
    keys: tuple[str, ...]  # the words around and at the edges ("prev=nel", "next=abitanti")


def words(sentence: str) -> list[tuple[int, int, str]]:
    """The words of a sentence with their offsets."""
    return [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(sentence)]


def _stems(text: str) -> set[str]:
    return set(tokenize(text))


def _pattern_spans(kind: str, sentence: str) -> list[tuple[int, int]]:
    group = 1 if kind in ("place", "title") else 0
    return [m.span(group) for m in PATTERNS[kind].finditer(sentence)]


def candidates(kind: str, sentence: str, question: str) -> list[SpanCandidate]:
    """Every run of one to five words of `sentence`, with its features for `kind`."""
    found = words(sentence)
    if not found:
        return []
    asked = _stems(question)
    asked_lower = {w.lower() for w in re.findall(r"\w+", question)}
    stems = [set(tokenize(w)) for _, _, w in found]
    hits = [i for i, s in enumerate(stems) if s & asked]
    patterns = _pattern_spans(kind, sentence)
    out = []
    for i in range(len(found)):
        for j in range(i, min(i + MAX_WORDS, len(found))):
            if j > i and not _JOIN.fullmatch(sentence[found[j - 1][1] : found[j][0]]):
                break
            start, end = found[i][0], found[j][1]
            row = _row(sentence, found, hits, patterns, asked_lower, i, j)
            out.append(SpanCandidate(start, end, row, _keys(kind, found, i, j)))
    return out


def _row(
    sentence: str,
    found: list[tuple[int, int, str]],
    hits: list[int],
    patterns: list[tuple[int, int]],
    asked_lower: set[str],
    i: int,
    j: int,
) -> tuple[float, ...]:
    texts = [w for _, _, w in found[i : j + 1]]
    start, end = found[i][0], found[j][1]
    n = j - i + 1
    content = [w for w in texts if w.lower() not in _STOP]
    prev_word = found[i - 1][2].lower() if i > 0 else ""
    before = sentence[found[i - 1][1] : start] if i > 0 else ""
    after = sentence[end : found[j + 1][0]] if j + 1 < len(found) else sentence[end:]
    outside = [k for k in hits if k < i or k > j]
    distance = min((min(abs(k - i), abs(k - j)) for k in outside), default=len(found))
    inside_question = sum(w.lower() in asked_lower for w in texts) / n
    values = {
        "bias": 1.0,
        "words_1": float(n == 1),
        "words_2": float(n == 2),
        "words_3": float(n == 3),
        "words_4plus": float(n >= 4),
        "first_capital": float(texts[0][:1].isupper()),
        "all_capital": float(bool(content) and all(w[:1].isupper() for w in content)),
        "has_digit": float(any(c.isdigit() for w in texts for c in w)),
        "is_year": float(any(_YEAR.fullmatch(w) for w in texts)),
        "has_month": float(any(_MONTH_RE.match(w) for w in texts)),
        "pattern_exact": float((start, end) in patterns),
        "pattern_inside": float(any(a <= start and end <= b for a, b in patterns)),
        "pattern_overlap": float(any(start < b and a < end for a, b in patterns)),
        "in_question": inside_question,
        "starts_stop": float(texts[0].lower() in _STOP),
        "ends_stop": float(texts[-1].lower() in _STOP),
        "left_terms": float(sum(1 for k in hits if i - 3 <= k < i)),
        "right_terms": float(sum(1 for k in hits if j < k <= j + 3)),
        "near_term": float(distance <= 2),
        "distance": math.log1p(distance),
        "after_place_prep": float(prev_word in _PLACE_PREP),
        "after_agent_prep": float(prev_word in _AGENT_PREP),
        "after_time_prep": float(prev_word in _TIME_PREP),
        "before_punct": float(bool(re.search(r"[,;:.()«»\"]", after))),
        "after_punct": float(i == 0 or bool(re.search(r"[,;:.()«»\"]", before))),
        "position": start / max(len(sentence), 1),
        "sentence_start": float(i == 0),
    }
    return tuple(values[f] for f in FEATURES)


def _shape(word: str) -> str:
    """ "Xx", "x", "d", "X" for a word: how it is written, not what it says."""
    if any(c.isdigit() for c in word):
        return "d"
    if word.isupper() and len(word) > 1:
        return "X"
    return "Xx" if word[:1].isupper() else "x"


def _keys(kind: str, found: list[tuple[int, int, str]], i: int, j: int) -> tuple[str, ...]:
    """The words next to the run and at its edges, and its shape, for the asked kind."""
    prev = found[i - 1][2].lower() if i > 0 else "<s>"
    prev2 = found[i - 2][2].lower() if i > 1 else "<s>"
    nxt = found[j + 1][2].lower() if j + 1 < len(found) else "</s>"
    first, last = found[i][2].lower(), found[j][2].lower()
    shape = " ".join(_shape(w) for _, _, w in found[i : j + 1])
    return tuple(
        f"{kind}|{k}"
        for k in (
            f"prev={prev}",
            f"prev2={prev2} {prev}",
            f"next={nxt}",
            f"first={first}",
            f"last={last}",
            f"shape={shape}",
        )
    )


def bucket(key: str) -> int:
    """A word key's column among the hashed ones (stable across processes)."""
    return zlib.crc32(key.encode("utf-8")) % HASHED


def dense(kind: str, rows: Sequence[tuple[float, ...]]) -> npt.NDArray[np.float64]:
    """Rows with a shared copy of each feature and one copy for the asked kind."""
    base = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    out = np.zeros((len(rows), DENSE), dtype=np.float64)
    out[:, : len(FEATURES)] = base
    k = KINDS.index(kind) + 1
    out[:, k * len(FEATURES) : (k + 1) * len(FEATURES)] = base
    return out


@dataclass(frozen=True, slots=True)
class SpanRanker:
    """Logistic weights over the expanded features (`expand`)."""

    weights: tuple[float, ...]  # DENSE feature weights, then HASHED word-key weights
    intercept: float

    def scores(self, kind: str, found: Sequence[SpanCandidate]) -> npt.NDArray[np.float64]:
        """A score per candidate (higher: likelier the answer)."""
        if not found:
            return np.zeros(0)
        w = np.asarray(self.weights)
        x = dense(kind, [c.row for c in found])
        words = np.array([sum(w[DENSE + bucket(k)] for k in c.keys) for c in found])
        scores: npt.NDArray[np.float64] = x @ w[:DENSE] + words + self.intercept
        return scores

    def best(
        self, kind: str | None, sentence: str, question: str, at_least: float = 0.0
    ) -> tuple[int, int] | None:
        """Offsets in `sentence` of the likeliest answer span, or None for other questions
        or when its probability is below `at_least`."""
        if kind not in KINDS:
            return None
        found = candidates(kind, sentence, question)
        if not found:
            return None
        scores = self.scores(kind, found)
        top = int(np.argmax(scores))
        if 1 / (1 + math.exp(-float(scores[top]))) < at_least:
            return None
        return found[top].start, found[top].end

    def to_json(self) -> str:
        """The model file's text."""
        return json.dumps(
            {
                "features": list(FEATURES),
                "kinds": list(KINDS),
                "intercept": round(self.intercept, 6),
                "weights": [round(w, 6) for w in self.weights],
            },
            indent=0,
        )

    @classmethod
    def from_json(cls, text: str) -> SpanRanker:
        """Read a model file; one written for other features is an error."""
        data = json.loads(text)
        if (
            data["features"] != list(FEATURES)
            or data["kinds"] != list(KINDS)
            or len(data["weights"]) != DENSE + HASHED
        ):
            raise ValueError("span model was trained on other features: run scripts.train_spans")
        return cls(tuple(float(w) for w in data["weights"]), float(data["intercept"]))


@cache
def ranker(path: Path = MODEL_PATH) -> SpanRanker:
    """The shipped span model, read once."""
    return SpanRanker.from_json(path.read_text(encoding="utf-8"))


def lead_span(
    kind: str | None, sentence: str, question: str, fallback: tuple[int, int] | None
) -> tuple[int, int] | None:
    """The span an answer leads with: the hand pattern's (`fallback`) when it found one,
    else the ranker's when likely (probability 0.5 or more, the balanced model's own
    boundary). On the demo questions the patterns are right where they fire ("ieri", "14
    persone"); the ranker finds what they cannot (one word, an organisation, a number
    written out)."""
    if fallback is not None:
        return fallback
    return ranker().best(kind, sentence, question, at_least=LIKELY)
