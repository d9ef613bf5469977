"""The learned sentence selector: candidate sentences, their features, the model scoring them.

Every sentence of the retrieved hits is a candidate. `candidates` describes each one by the
features below; `Selector` (a logistic regression whose coefficients live in
`selector_model.json`, rebuilt by `python -m scripts.train_answerer`) turns them into the
probability that the sentence states the answer, and calibrates the best one's into the
answer's confidence. Loading needs only numpy and the JSON file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.lexical import tokenize
from index.types import Hit
from ingest.sentences import sentence_spans
from server.answer.cues import language
from server.answer.errors import ModelFileError
from server.answer.lexicon import PREFIX, Asked, has_term
from server.answer.selector_cues import CONCEPTS, KINDS, find_span, question_kind

MODEL_PATH = Path(__file__).with_name("selector_model.json")
MODEL_VERSION = 1
Similarity = Callable[[str, Sequence[str]], Sequence[float | None]]
Matrix = npt.NDArray[np.float64]

# Feature groups, so the training script can measure what each one buys (docs/evaluation.md).
LEXICAL = (
    "own",  # IDF-weighted share of the question's terms in the sentence
    "context",  # ... in the sentence, its previous sentence, heading and title
    "header",  # ... in the title and heading alone
    "previous",  # ... in the previous sentence
    "next",  # ... in the next sentence
    "passage",  # ... anywhere in the chunk
    "support",  # ... anywhere in the retrieved passages
    "own_gap",  # own minus the best own among the candidates
    "rarest",  # the question's rarest term is in the sentence's context
    "count_share",  # unweighted share of terms in the sentence
)
DENSE = (
    "cosine",  # question vs sentence (the passage's when the sentence has no vector)
    "cosine_gap",  # cosine minus the best cosine among the candidates
    "cosine_first",  # 1 for the sentence closest in meaning
    "passage_cosine",  # question vs the whole chunk
)
RANKING = ("inv_rank", "fused", "bm25_share")
LEXICON = ("stated", "numbers_found", "asks_concept")
SPAN = tuple(f"span_{k}" for k in KINDS) + tuple(f"nospan_{k}" for k in KINDS) + ("strong_span",)
SHAPE = ("heading", "first_sentence", "first_chunk", "length", "english", "own_x_cosine")
FEATURES: tuple[str, ...] = LEXICAL + DENSE + RANKING + LEXICON + SPAN + SHAPE
GROUPS: Mapping[str, tuple[str, ...]] = {
    "lexical": LEXICAL,
    "dense": (*DENSE, "own_x_cosine"),
    "lexicon": (*LEXICON, "strong_span"),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sentence of one hit: offsets into the chunk text and the answer span inside it."""

    hit: Hit
    rank: int
    start: int
    end: int
    span: tuple[int, int] | None  # offsets into the sentence
    stated: bool  # the context states every concept the question asks about

    @property
    def sentence(self) -> str:
        """The sentence's text."""
        return self.hit.chunk.text[self.start : self.end]


def matchable(tokens: Set[str]) -> set[str]:
    """Tokens plus their prefixes, so "iscriv" meets "iscrizion" (both start "iscri")."""
    return set(tokens) | {t[:PREFIX] for t in tokens if len(t) > PREFIX}


@lru_cache(maxsize=8192)
def sentences_of(text: str) -> tuple[tuple[int, int, frozenset[str]], ...]:
    """A chunk's sentences with their matchable tokens, cached: hits repeat across questions."""
    return tuple(
        (start, end, frozenset(matchable(set(tokenize(text[start:end])))))
        for start, end in sentence_spans(text)
    )


@lru_cache(maxsize=8192)
def _header(title: str, heading: str | None) -> frozenset[str]:
    return frozenset(matchable(set(tokenize(f"{title} {heading or ''}"))))


def coverage(terms: Mapping[str, float], tokens: Set[str]) -> float:
    """IDF-weighted share of the question's terms found among `tokens` (with prefixes)."""
    total = sum(terms.values())
    if not total:
        return 0.0
    return sum(w for t, w in terms.items() if has_term(t, tokens)) / total


# A name in a question: a capitalised word after the first, or an acronym ("NASA").
_NAME = re.compile(r"(?<=\s)[A-ZÀ-Ý][\w'’-]+|\b[A-Z]{2,}\b")


def unknown_name(
    question: str, hits: Sequence[Hit], idf: Callable[[Sequence[str]], list[float]]
) -> str | None:
    """A name the Italian question asks about that no article of the corpus mentions.

    "Quanti dipendenti ha la NASA?" over articles that never name NASA is about something
    the articles do not cover, however well another company's headcount matches the rest.
    A name counts as unknown when no retrieved passage or title holds it and the corpus
    has never seen it (its IDF is that of an unseen token); with uniform weights (no
    lexical index) nothing is unknown. English questions are not checked: their names are
    often translated ("Mechatronics Forum" for "Forum della Meccatronica").
    """
    known = tokenize(hits[0].chunk.text)[:1] if hits else []
    if language(question) != "it" or not known:
        return None
    unseen, indexed = idf(["zzqxunseen", known[0]])
    if unseen <= indexed:  # uniform weights: no lexical index to ask
        return None
    seen: set[str] = set()
    for hit in hits:
        seen |= _header(hit.title, hit.chunk.heading)
        for _, _, tokens in sentences_of(hit.chunk.text):
            seen |= tokens
    for match in _NAME.finditer(question):
        stems = tokenize(match.group(0))
        missing = stems and not any(has_term(stem, seen) for stem in stems)
        if missing and all(weight >= unseen for weight in idf(stems)):
            return match.group(0)
    return None


def is_heading(sentence: str, hit: Hit) -> bool:
    """A heading line is a title, not a statement: it answers nothing by itself."""
    if sentence == hit.chunk.heading:
        return True
    return len(sentence) < 60 and sentence[-1:] not in '.!?…»"”)'


def _cosines(
    question: str, hits: Sequence[Hit], similarity: Similarity | None
) -> dict[tuple[int, int], float]:
    if similarity is None:
        return {}
    spans = [(r, a, b) for r, hit in enumerate(hits) for a, b, _ in sentences_of(hit.chunk.text)]
    scores = similarity(question, [hits[r].chunk.text[a:b] for r, a, b in spans])
    return {(r, a): v for (r, a, _), v in zip(spans, scores, strict=True) if v is not None}


def candidates(
    question: str,
    hits: Sequence[Hit],
    terms: Mapping[str, float],
    similarity: Similarity | None = None,
) -> tuple[list[Candidate], Matrix]:
    """Every sentence of `hits` and its feature row (columns in `FEATURES` order).

    `terms` maps the question's content terms to their IDF weights.
    """
    kind = question_kind(question)
    asked = Asked.parse(question, CONCEPTS)
    rarest = max(terms, key=lambda t: terms[t]) if terms else None
    cosine_of = _cosines(question, hits, similarity)
    everything: set[str] = set()
    for hit in hits:
        everything |= _header(hit.title, hit.chunk.heading)
        for _, _, tokens in sentences_of(hit.chunk.text):
            everything |= tokens
    support = coverage(terms, everything)
    numbers = {t for t in terms if t.isdigit()}
    bm25_best = max((h.bm25 or 0.0 for h in hits), default=0.0) or 1.0
    found: list[Candidate] = []
    rows: list[dict[str, float]] = []
    for rank, hit in enumerate(hits):
        text = hit.chunk.text
        header = _header(hit.title, hit.chunk.heading)
        heading = f"{hit.title}\n{hit.chunk.heading or ''}"
        sentences = sentences_of(text)
        passage = coverage(terms, frozenset().union(*(s[2] for s in sentences), header))
        previous: frozenset[str] = frozenset()
        previous_text = ""
        for i, (start, end, sentence_tokens) in enumerate(sentences):
            sentence = text[start:end]
            tokens = sentence_tokens | asked.focus_credit(sentence)
            context = tokens | previous | header
            following = sentences[i + 1][2] if i + 1 < len(sentences) else frozenset()
            span = find_span(kind, sentence, question, terms, asked.near)
            stated = asked.stated_in(f"{heading}\n{previous_text}\n{sentence}", context)
            cosine = cosine_of.get((rank, start), hit.similarity or 0.0)
            own = coverage(terms, tokens)
            row = {
                "own": own,
                "context": coverage(terms, context),
                "header": coverage(terms, header),
                "previous": coverage(terms, previous),
                "next": coverage(terms, following),
                "passage": passage,
                "support": support,
                "rarest": float(rarest is not None and has_term(rarest, context)),
                "count_share": sum(has_term(t, tokens) for t in terms) / max(len(terms), 1),
                "cosine": cosine,
                "passage_cosine": hit.similarity or 0.0,
                "inv_rank": 1 / (1 + rank),
                "fused": hit.score,
                "bm25_share": (hit.bm25 or 0.0) / bm25_best,
                "stated": float(stated),
                "numbers_found": float(numbers <= context),
                "asks_concept": float(bool(asked.concepts or asked.focus)),
                "strong_span": float(bool(span and span[2])),
                "heading": float(is_heading(sentence, hit)),
                "first_sentence": float(i == 0),
                "first_chunk": float(hit.chunk.ordinal == 0),
                "length": math.log1p(len(sentence_tokens)),
                "english": float(language(question) == "en"),
                "own_x_cosine": own * cosine,
            }
            if kind:
                row[f"span_{kind}" if span else f"nospan_{kind}"] = 1.0
            rows.append(row)
            found.append(Candidate(hit, rank, start, end, span[:2] if span else None, stated))
            previous, previous_text = tokens, sentence
    return found, _matrix(rows)


def _matrix(rows: list[dict[str, float]]) -> Matrix:
    """Rows as a matrix, with the features relative to the best candidate filled in."""
    matrix = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    column = {name: i for i, name in enumerate(FEATURES)}
    for r, row in enumerate(rows):
        for name, value in row.items():
            matrix[r, column[name]] = value
    if len(rows):
        own, cosine = matrix[:, column["own"]], matrix[:, column["cosine"]]
        matrix[:, column["own_gap"]] = own - own.max()
        matrix[:, column["cosine_gap"]] = cosine - cosine.max()
        matrix[int(np.argmax(cosine)), column["cosine_first"]] = 1.0
    return matrix


@dataclass(frozen=True, slots=True)
class Tree:
    """One regression tree: node i splits on `feature[i]` (-1 at a leaf) at `threshold[i]`."""

    feature: tuple[int, ...]  # index into the selector's `features`
    threshold: tuple[float, ...]  # rows with x <= threshold go left
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]  # a leaf's contribution to the log-odds

    def predict(self, x: Matrix) -> npt.NDArray[np.float64]:
        """Each row's leaf value."""
        feature, threshold = np.asarray(self.feature), np.asarray(self.threshold)
        left, right = np.asarray(self.left), np.asarray(self.right)
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while True:
            split = feature[node] >= 0
            if not split.any():
                return np.asarray(self.value, dtype=np.float64)[node]
            go_left = x[rows, np.maximum(feature[node], 0)] <= threshold[node]
            node = np.where(split, np.where(go_left, left[node], right[node]), node)


@dataclass(frozen=True, slots=True)
class Selector:
    """An additive log-odds model over `FEATURES`, its calibration and abstention threshold.

    The log-odds are `intercept + standardised features · coef + Σ trees`: a logistic
    regression has no trees, gradient boosting zero coefficients. `probabilities` gives
    each candidate's chance of stating the answer; `confidence` maps the best candidate's
    to the calibrated probability that the answer is right, and the answerer abstains
    below `threshold`.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    calibration: tuple[float, float]  # a, b: confidence = sigmoid(a * logit(p) + b)
    threshold: float
    companion: float  # a second sentence is quoted when its probability is this share of the best
    trees: tuple[Tree, ...] = ()
    # Only a sentence whose context states what the question asks about can answer it
    # (`server.answer.lexicon`): near misses look like answers to every other feature.
    check_stated: bool = True

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1:
            raise ValueError("features, mean, scale and coef must have the same length")
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")

    def probabilities(self, matrix: Matrix) -> npt.NDArray[np.float64]:
        """Each candidate row's probability of stating the answer."""
        columns = [FEATURES.index(name) for name in self.features]
        x = matrix[:, columns]
        logit = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        logit = logit + self.intercept
        for tree in self.trees:
            logit = logit + tree.predict(x)
        return _sigmoid(logit)

    def scores(self, matrix: Matrix) -> npt.NDArray[np.float64]:
        """`probabilities`, with 0 for a sentence that fails the stated-check when it is on."""
        probabilities = self.probabilities(matrix)
        if self.check_stated:
            probabilities = probabilities * matrix[:, FEATURES.index("stated")]
        return probabilities

    def confidence(self, probability: float) -> float:
        """The calibrated probability that an answer from this best candidate is right."""
        p = min(max(probability, 1e-6), 1 - 1e-6)
        a, b = self.calibration
        return float(_sigmoid(np.asarray(a * math.log(p / (1 - p)) + b)))

    def to_json(self) -> str:
        """The model file's text."""
        data: dict[str, object] = {"version": MODEL_VERSION}
        data.update({name: getattr(self, name) for name in self.__slots__ if name != "trees"})
        data["trees"] = [
            [tree.feature, tree.threshold, tree.left, tree.right, tree.value] for tree in self.trees
        ]
        return json.dumps(data, separators=(",", ":")) + "\n"

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Selector:
        """Read a model file written by `scripts.train_answerer`.

        Raises:
            ModelFileError: the file is missing, not JSON, of another version, or names
                features this code does not compute.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: cannot read the selector model ({exc})") from exc
        if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
            raise ModelFileError(f"{path}: not a version {MODEL_VERSION} selector model")
        unknown = set(data.get("features", ())) - set(FEATURES)
        if unknown:
            raise ModelFileError(f"{path}: unknown features {sorted(unknown)}")
        try:
            return cls(
                features=tuple(data["features"]),
                mean=tuple(data["mean"]),
                scale=tuple(data["scale"]),
                coef=tuple(data["coef"]),
                intercept=float(data["intercept"]),
                calibration=(float(data["calibration"][0]), float(data["calibration"][1])),
                threshold=float(data["threshold"]),
                companion=float(data["companion"]),
                trees=tuple(_tree(t) for t in data.get("trees", ())),
                check_stated=bool(data.get("check_stated", True)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelFileError(f"{path}: malformed selector model ({exc})") from exc


def _tree(nodes: list[list[float]]) -> Tree:
    feature, threshold, left, right, value = nodes
    return Tree(
        tuple(int(v) for v in feature),
        tuple(float(v) for v in threshold),
        tuple(int(v) for v in left),
        tuple(int(v) for v in right),
        tuple(float(v) for v in value),
    )


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -30, 30))), dtype=np.float64)
