"""The learned answerer: a trained selector picks the sentences to quote (opt-in).

Chosen with `CLUSTERCHAT_ANSWERER=learned`; the hand-tuned `ExtractiveAnswerer` stays the
default because the learned one abstains on fewer near misses of the demo set (11 of 14
against 14 of 14, docs/evaluation.md "Learned selector (issue 13)").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from functools import lru_cache
from pathlib import Path

from index.lexical import tokenize
from index.types import Hit
from server.answer.answerer import (
    _ORDINALS,
    _QUESTION_WORDS,
    HISTORY_WEIGHT,
    Answer,
    Citation,
    Span,
    Turn,
    abstain,
    citation_for,
    followup_query,
    one_line,
    overlaps,
)
from server.answer.cues import format_date, language, resolve_date
from server.answer.selector import (
    MODEL_PATH,
    Candidate,
    Selector,
    Similarity,
    candidates,
    unknown_name,
)
from server.answer.selector_cues import question_kind
from server.answer.spans import lead_span

NAME = "learned"  # Answer.answerer


def question_terms(
    question: str, idf: Callable[[Sequence[str]], list[float]], history: Sequence[Turn] = ()
) -> dict[str, float]:
    """The question's content terms and their IDF weights (earlier turns' at less)."""
    tokens = [t for t in dict.fromkeys(tokenize(question)) if t not in _QUESTION_WORDS]
    terms = dict(zip(tokens, idf(tokens), strict=True))
    context = followup_query(question, history)
    if context != question:  # a follow-up: earlier terms help, at a lower weight
        extra = [
            t
            for t in dict.fromkeys(tokenize(context))
            if t not in terms and t not in _QUESTION_WORDS and t not in _ORDINALS
        ]
        weights = idf(extra)
        terms.update({t: w * HISTORY_WEIGHT for t, w in zip(extra, weights, strict=True)})
    return terms


@lru_cache(maxsize=4)
def _selector(path: Path) -> Selector:
    return Selector.load(path)


class LearnedAnswerer:
    """Quotes the one or two (max_sentences) retrieved sentences the selector ranks best.

    Every sentence of the hits is described by features (`server.answer.selector`: shared
    terms, dense similarity, rank, the asked-for span, what the question asks about) and
    scored by the learned selector. Below `threshold` (by default the model's calibrated
    one) it abstains. For a question that asks for a name, date, number, place or title,
    the answer leads with that span of the quoted sentence ("Thierry Breton [1]."); a date
    without its year, or a relative one ("ieri"), is followed by the full date the
    article's date gives. Answers carry `span` and `confidence`.
    """

    def __init__(
        self,
        idf: Callable[[Sequence[str]], list[float]],
        threshold: float | None = None,
        max_sentences: int = 2,
        sentence_similarity: Similarity | None = None,
        selector: Selector | None = None,
    ) -> None:
        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        self.idf = idf
        self.selector = selector or _selector(MODEL_PATH)
        self.threshold = self.selector.threshold if threshold is None else threshold
        self.max_sentences = max_sentences
        # Cosine similarity of the question to each sentence (None where unknown):
        # `Searcher.sentence_similarity` (docs/evaluation.md).
        self.sentence_similarity = sentence_similarity

    @staticmethod
    def kind(question: str) -> str | None:
        """What the question asks for (person, date, number, place, title) or None."""
        return question_kind(question)

    def terms(self, question: str, history: Sequence[Turn] = ()) -> dict[str, float]:
        """The question's content terms and their IDF weights."""
        return question_terms(question, self.idf, history)

    def ranked(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()
    ) -> list[tuple[Candidate, float]]:
        """Every sentence of the hits with its probability of stating the answer, best first."""
        found, matrix = candidates(
            question, hits, self.terms(question, history), self.sentence_similarity
        )
        if not found:
            return []
        probabilities = self.selector.scores(matrix).tolist()
        pairs = list(zip(found, probabilities, strict=True))
        pairs.sort(key=lambda pair: (-pair[1], pair[0].rank, pair[0].start))
        return pairs

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()) -> Answer:
        """Lead with the asked-for span, quote the best sentences with [n] markers, or abstain."""
        ranked = self.ranked(question, hits, history)
        if not ranked or unknown_name(question, hits, self.idf):
            return abstain(question, hits, NAME, confidence=0.0)
        best, p_best = ranked[0]
        confidence = self.selector.confidence(p_best)
        if confidence < self.threshold:
            return abstain(question, hits, NAME, confidence=round(confidence, 4))
        chosen = [best]
        for other, p in ranked[1:]:
            # No more quotes than passages read (k = 1 quotes one sentence).
            limit = min(self.max_sentences, len(hits))
            if len(chosen) == limit or p < self.selector.companion * p_best:
                break
            if not any(overlaps(other, c) for c in chosen):
                chosen.append(other)
        best = replace(
            best, span=lead_span(self.kind(question), best.sentence, question, best.span)
        )
        chosen[0] = best
        # The best sentence leads; companions follow in reading order.
        chosen[1:] = sorted(chosen[1:], key=lambda c: (c.rank, c.start))
        citations = tuple(citation_for(n, c) for n, c in enumerate(chosen, start=1))
        lang = language(question)
        span = _span(citations[0])
        return Answer(
            compose(citations, span, lang, best.hit.published),
            False,
            citations,
            NAME,
            language=lang,
            span=span,
            confidence=round(confidence, 4),
        )


def compose(
    citations: Sequence[Citation], span: Span | None, lang: str, published: date | None
) -> str:
    """The answer text: the span first ("Thierry Breton [1]."), then the verbatim quotes.

    An English question gets English words around the Italian quotes.
    """
    parts: list[str] = []
    if span is not None:
        resolved = resolve_date(span.text, published)
        full = f" ({format_date(resolved, lang)})" if resolved else ""
        parts.append(f"{one_line(span.text)}{full} [1].")
    for c in citations:
        quote = one_line(c.quote)
        if lang == "en":
            lead = "The article says" if c.n == 1 else "It also says"
            parts.append(f'{lead} (in Italian): "{quote}" [{c.n}]')
        else:
            parts.append(f"{quote} [{c.n}]")
    return " ".join(parts)


def _span(citation: Citation) -> Span | None:
    if citation.highlight_start is None or citation.highlight_end is None:
        return None
    a, b = citation.highlight_start - citation.start, citation.highlight_end - citation.start
    return Span(citation.quote[a:b], citation.highlight_start, citation.highlight_end)
