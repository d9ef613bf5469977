"""Answers with verified citations: the extractive answerer and the shared answer types."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

from index.lexical import tokenize
from index.types import ArticleRef, Hit
from ingest.sentences import sentence_spans
from server.answer.cues import find_span, language, question_kind
from server.answer.lexicon import PREFIX, Asked, has_term

ABSTAIN = {
    "it": "Non ho trovato questa informazione negli articoli.",
    "en": "I could not find this information in the articles.",
}
# Below this cosine similarity an English question is taken as not covered by the articles.
EN_MIN_SIMILARITY = 0.80
_FOLLOWUP = re.compile(
    r"^(e|ed|and|also|anche|invece|what about|e invece)\b|\b(lui|lei|loro|questo|questa|quello|"
    r"quella|stesso|stessa|he|she|they|it|that|this|there|secondo|second|terzo|third|altro|other)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Citation:
    """A verbatim quote: `quote == article.text[start:end]`, inside chunk `chunk_id`."""

    n: int
    article_id: str
    chunk_id: str
    title: str
    url: str | None
    published: date | None
    quote: str
    start: int
    end: int
    highlight_start: int | None  # the answer span inside the quote (article offsets)
    highlight_end: int | None
    passage: str  # the chunk text around the quote
    passage_start: int
    source: str = ""  # the file (or JSONL source) the article came from
    # The same news published by others (near-duplicates of the cited article), oldest first.
    also_published_by: tuple[ArticleRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A close article offered when the answer abstains."""

    article_id: str
    title: str
    url: str | None
    published: date | None


@dataclass(frozen=True, slots=True)
class Named:
    """A person a who-answer names, with the role asked and the citation that states it."""

    name: str
    role: str  # one of ingest.facts.types.ROLES
    organisation: str | None
    job_title: str | None
    citation: int  # the [n] whose quote names this person in this role


@dataclass(frozen=True, slots=True)
class Span:
    """The asked-for name, date, number, place or title: `text == article.text[start:end]`."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Answer:
    """Text with [n] markers; every marker has a citation and every citation a marker."""

    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    answerer: str = "extractive"
    suggestions: tuple[Suggestion, ...] = ()
    language: str = "it"
    people: tuple[Named, ...] = ()  # a who-answer's people, for a list view
    # Set by the learned answerer (server.answer.learned) only; None from the others.
    span: Span | None = None  # inside the first citation's quote
    confidence: float | None = None  # calibrated probability that the answer is right


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" or "assistant"
    content: str


class Answerer(Protocol):
    """Turns a question and its retrieved hits into an Answer."""

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()) -> Answer:
        """Answer `question` from `hits` only, citing them."""
        ...


# What a follow-up's retrieval query takes from the conversation: the last user question,
# cut to this many characters. An earlier turn of any size then costs the same (docs/limits.md).
FOLLOWUP_CONTEXT_CHARS = 300
_CONNECTIVE = re.compile(r"^\s*(e invece|what about|and|also|anche|invece|ed|e)\b[\s,]*", re.I)


def previous_question(history: Sequence[Turn]) -> str | None:
    """The last user turn, at most FOLLOWUP_CONTEXT_CHARS characters (cut at a space)."""
    for turn in reversed(history):
        if turn.role != "user":
            continue
        text = " ".join(turn.content.lstrip()[: FOLLOWUP_CONTEXT_CHARS + 1].split())
        if not text:
            continue
        if len(text) > FOLLOWUP_CONTEXT_CHARS:
            cut = text[:FOLLOWUP_CONTEXT_CHARS]
            text = cut.rsplit(" ", 1)[0] if " " in cut else cut
        return text
    return None


def followup_query(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query for a follow-up: the previous question's context plus this one.

    A question that leans on the conversation ("E chi ha parlato nel secondo panel?")
    is too thin to retrieve on its own, so the last user question (its first
    FOLLOWUP_CONTEXT_CHARS characters) is prepended.
    """
    previous = previous_question(history)
    if previous is None:
        return question
    thin = len(tokenize(question)) <= 4 or _FOLLOWUP.search(question.strip())
    return f"{previous} {question}" if thin else question


def without_connective(question: str) -> str:
    """The follow-up without its leading "E", "Anche", "And"...: they carry no content."""
    return _CONNECTIVE.sub("", question, count=1).strip() or question


@dataclass(frozen=True, slots=True)
class Weights:
    """How a sentence's score is made; tuned on the dev sets (docs/evaluation.md)."""

    own: float = 0.3  # question terms in the sentence itself
    context: float = 0.35  # ... in the sentence, its heading, title and previous sentence
    rank: float = 0.1  # the hit's rank, as 1 / (1 + rank)
    similarity: float = 0.3  # dense similarity: the sentence's own, else its passage's
    strong_cue: float = 0.1  # the asked-for span next to a question term
    weak_cue: float = 0.05  # the asked-for span elsewhere in the sentence
    no_cue: float = 0.8  # factor when the question asks for a span the sentence lacks
    companion: float = 0.75  # extra sentences must score this share of the best one
    # ... and, if set, hold a span of the kind asked for ("quando": a date); no effect on
    # questions that ask for no particular kind
    companion_needs_span: bool = False
    check_stated: bool = True  # abstain when the passage does not state what is asked about
    # A sentence's own evidence is at least this share of its context's: "La firma è avvenuta
    # il 18 giugno" continues the sentence before it, which names the agreement.
    carry: float = 0.5
    # An Italian question whose best passage is at least this close in meaning (cosine) is
    # answered even with few shared terms, as a paraphrase. Off (1.0) by default: measured,
    # it answers too many questions wrongly (docs/evaluation.md).
    paraphrase: float = 1.0


@dataclass(frozen=True, slots=True)
class _Candidate:
    hit: Hit
    rank: int
    start: int  # offsets into the chunk text
    end: int
    score: float
    evidence: float  # question terms found in the sentence and its context
    support: float  # question terms found anywhere in the retrieved passages
    span: tuple[int, int] | None
    numbers_found: bool = True  # every number of the question ("2025") is in the context
    stated: bool = True  # the context states every concept the question asks about


# Question words carry no evidence: every answer "matches" them.
_QUESTION_WORDS = frozenset(
    tokenize(
        "quanti quante quanto quanta quale quali qual cosa come dove quando chi perché perche "
        "what who whom whose when where which how many much why did does was were "
        # Verbs that only say what kind of answer is wanted ("chi ha parlato" wants a name,
        # "quando si è svolta" a date): articles say "è intervenuta", "si è tenuta".
        "parlato parlare parla parlano intervenuto intervenuta intervenuti intervenire "
        "relatore relatori relatrice svolto svolta svolti tenuto tenuta tenutosi "
        "fatto fatta fatti fare spoke speak speakers talked held took place"
    )
)
# A follow-up replaces these ("primo" -> "secondo"): they do not carry over from history.
_ORDINALS = frozenset(tokenize("primo prima secondo seconda terzo terza quarto ultimo ultima"))
HISTORY_WEIGHT = 0.3


def _matchable(tokens: Set[str]) -> set[str]:
    """Tokens plus their prefixes, so "iscriv" meets "iscrizion" (both start "iscri")."""
    return set(tokens) | {t[:PREFIX] for t in tokens if len(t) > PREFIX}


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[tuple[int, int, frozenset[str]], ...]:
    """A chunk's sentences with their matchable tokens, cached: hits repeat across questions."""
    return tuple(
        (start, end, frozenset(_matchable(set(tokenize(text[start:end])))))
        for start, end in sentence_spans(text)
    )


@lru_cache(maxsize=8192)
def _header(title: str, heading: str | None) -> frozenset[str]:
    """Matchable tokens of an article title and section heading."""
    return frozenset(_matchable(set(tokenize(f"{title} {heading or ''}"))))


def _coverage(terms: dict[str, float], tokens: Set[str]) -> float:
    """IDF-weighted share of the question's terms found among `tokens` (with prefixes)."""
    total = sum(terms.values())
    if not total:
        return 0.0
    found = sum(w for t, w in terms.items() if has_term(t, tokens))
    return found / total


# The hand-tuned answerer's abstention threshold (docs/evaluation.md).
EXTRACTIVE_THRESHOLD = 0.35


def abstain(
    question: str,
    hits: Sequence[Hit],
    answerer: str = "extractive",
    confidence: float | None = None,
) -> Answer:
    """The honest 'not found' answer, with the closest articles as suggestions."""
    lang = language(question)
    seen: dict[str, Suggestion] = {}
    for hit in hits:
        seen.setdefault(
            hit.chunk.article_id,
            Suggestion(hit.chunk.article_id, hit.title, hit.url, hit.published),
        )
    suggestions = tuple(list(seen.values())[:3])
    return Answer(ABSTAIN[lang], True, (), answerer, suggestions, lang, confidence=confidence)


class ExtractiveAnswerer:
    """Quotes the one or two (max_sentences) retrieved sentences that best answer the question.

    Each sentence of the top hits is scored by IDF-weighted overlap of stemmed terms
    with the question (in the sentence, and in its heading, title and previous
    sentence), the hit's rank and dense similarity, and whether it holds the kind of
    span the question asks for (a name for "chi", a date for "quando", ...). When the
    best sentence's evidence is below `threshold`, or it does not state the attribute
    the question asks about (a price, a headcount, a moderator: `server.answer.lexicon`), it
    abstains.
    """

    def __init__(
        self,
        idf: Callable[[Sequence[str]], list[float]],
        threshold: float = EXTRACTIVE_THRESHOLD,
        max_sentences: int = 2,
        weights: Weights | None = None,
        sentence_similarity: Callable[[str, Sequence[str]], Sequence[float | None]] | None = None,
    ) -> None:
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        self.idf = idf
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.weights = weights or Weights()
        # Cosine similarity of the question to each sentence (None where unknown), used in
        # place of its passage's: `Searcher.sentence_similarity` (docs/evaluation.md).
        self.sentence_similarity = sentence_similarity

    def _terms(self, question: str, history: Sequence[Turn]) -> dict[str, float]:
        tokens = [t for t in dict.fromkeys(tokenize(question)) if t not in _QUESTION_WORDS]
        terms = dict(zip(tokens, self.idf(tokens), strict=True))
        context = followup_query(question, history)
        if context != question:  # a follow-up: earlier terms help, at half weight
            extra = [
                t
                for t in dict.fromkeys(tokenize(context))
                if t not in terms and t not in _QUESTION_WORDS and t not in _ORDINALS
            ]
            weights = self.idf(extra)
            terms.update({t: w * HISTORY_WEIGHT for t, w in zip(extra, weights, strict=True)})
        return terms

    def candidates(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()
    ) -> list[_Candidate]:
        """Every sentence of the hits, scored, best first."""
        terms = self._terms(question, history)
        kind = question_kind(question)
        asked = Asked.parse(question)
        everything: set[str] = set()
        for hit in hits:
            everything |= _header(hit.title, hit.chunk.heading)
            for _, _, tokens in _sentences(hit.chunk.text):
                everything |= tokens
        support = _coverage(terms, everything)
        numbers = {t for t in terms if t.isdigit()}
        sentence_similarity: dict[tuple[int, int], float] = {}
        if self.sentence_similarity is not None:
            spans = [
                (r, a, b) for r, hit in enumerate(hits) for a, b, _ in _sentences(hit.chunk.text)
            ]
            scores = self.sentence_similarity(
                question, [hits[r].chunk.text[a:b] for r, a, b in spans]
            )
            sentence_similarity = {
                (r, a): v for (r, a, _), v in zip(spans, scores, strict=True) if v is not None
            }
        found: list[_Candidate] = []
        for rank, hit in enumerate(hits):
            text = hit.chunk.text
            header = _header(hit.title, hit.chunk.heading)
            heading = f"{hit.title}\n{hit.chunk.heading or ''}"
            previous: frozenset[str] = frozenset()
            previous_text = ""
            for start, end, sentence_tokens in _sentences(text):
                sentence = text[start:end]
                # The counted thing stated in other words ("fondi": "finanziato con") counts
                # as the question's word.
                tokens = sentence_tokens | asked.focus_credit(sentence)
                context = tokens | previous | header
                context_text = f"{heading}\n{previous_text}\n{sentence}"
                evidence = _coverage(terms, context)
                own = max(_coverage(terms, tokens), self.weights.carry * evidence)
                found_span = find_span(kind, sentence, question, terms, asked.near)
                cosine = sentence_similarity.get((rank, start), hit.similarity or 0.75)
                similarity = min(max((cosine - 0.75) / 0.15, 0.0), 1.0)
                w = self.weights
                cue = 0.0 if not found_span else w.strong_cue if found_span[2] else w.weak_cue
                score = (
                    w.own * own
                    + w.context * evidence
                    + w.rank / (1 + rank)
                    + w.similarity * similarity
                    + cue
                )
                if kind and not found_span:
                    score *= w.no_cue
                if _is_heading(sentence, hit):
                    score *= 0.5
                span = found_span[:2] if found_span else None
                found.append(
                    _Candidate(
                        hit,
                        rank,
                        start,
                        end,
                        score,
                        evidence,
                        support,
                        span,
                        numbers <= context,
                        asked.stated_in(context_text, context),
                    )
                )
                previous, previous_text = tokens, sentence
        found.sort(key=lambda c: (-c.score, c.rank, c.start))
        return found

    def _weak(self, question: str, best: _Candidate) -> bool:
        """Too little evidence to answer.

        Whatever the language, the best passage must state what the question asks about
        (`server.answer.lexicon`): "Quanti dipendenti ha Adriatica H2?" is not answered from a
        sentence about Adriatica H2 that says nothing of its staff. Beyond that, Italian
        questions are judged by the share of their terms the passage holds (and, if
        `Weights.paraphrase` is set below 1, answered anyway when the passage is that close
        in meaning). An English question over Italian articles shares few stems with them,
        so only the dense (cross-lingual) similarity of the best passage can judge it.
        """
        if self.weights.check_stated and not best.stated:
            return True
        similarity = best.hit.similarity or 0.0
        if language(question) == "en":
            return similarity < EN_MIN_SIMILARITY
        if not best.numbers_found:
            return True
        if best.evidence >= self.threshold:
            return False
        if self.weights.paraphrase >= 1.0 or similarity < self.weights.paraphrase:
            return True
        # A paraphrase must still hold what a typed question asks for ("chi": a name).
        return question_kind(question) is not None and best.span is None

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()) -> Answer:
        """Quote the best sentences with [n] markers, or abstain when evidence is weak."""
        ranked = self.candidates(question, hits, history)
        if not ranked or self._weak(question, ranked[0]):
            return abstain(question, hits)
        best = ranked[0]
        typed = question_kind(question)
        chosen = [best]
        for other in ranked[1:]:
            if (
                len(chosen) == self.max_sentences
                or other.score < self.weights.companion * best.score
            ):
                break
            if (other.span or typed is None or not self.weights.companion_needs_span) and not any(
                overlaps(other, c) for c in chosen
            ):
                chosen.append(other)
        # The best sentence leads; companions follow in reading order.
        chosen[1:] = sorted(chosen[1:], key=lambda c: (c.rank, c.start))
        citations = tuple(citation_for(n, c) for n, c in enumerate(chosen, start=1))
        text = " ".join(f"{one_line(c.quote)} [{c.n}]" for c in citations)
        return Answer(text, False, citations, "extractive", (), language(question))


def _is_heading(sentence: str, hit: Hit) -> bool:
    """A heading line is a title, not a statement: it answers nothing by itself."""
    if sentence == hit.chunk.heading:
        return True
    return len(sentence) < 60 and sentence[-1:] not in '.!?…»"”)'


class Located(Protocol):
    """A sentence of a hit, as both answerers rank them: offsets into the chunk text and the
    answer span inside the sentence."""

    @property
    def hit(self) -> Hit: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def span(self) -> tuple[int, int] | None: ...


def overlaps(a: Located, b: Located) -> bool:
    """True when two sentences share characters of one article."""
    if a.hit.chunk.article_id != b.hit.chunk.article_id:
        return False
    a0, a1 = a.hit.chunk.start + a.start, a.hit.chunk.start + a.end
    b0, b1 = b.hit.chunk.start + b.start, b.hit.chunk.start + b.end
    return a0 < b1 and b0 < a1


def one_line(text: str) -> str:
    """`text` with every run of whitespace made one space."""
    return re.sub(r"\s+", " ", text).strip()


def citation_for(n: int, c: Located) -> Citation:
    """Citation [n] quoting sentence `c` verbatim, its answer span highlighted."""
    chunk = c.hit.chunk
    start, end = chunk.start + c.start, chunk.start + c.end
    span = (start + c.span[0], start + c.span[1]) if c.span else (None, None)
    return Citation(
        n=n,
        article_id=chunk.article_id,
        chunk_id=chunk.id,
        title=c.hit.title,
        url=c.hit.url,
        published=c.hit.published,
        quote=chunk.text[c.start : c.end],
        start=start,
        end=end,
        highlight_start=span[0],
        highlight_end=span[1],
        passage=chunk.text,
        passage_start=chunk.start,
        source=c.hit.source,
    )
