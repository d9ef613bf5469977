"""The cue rules the learned selector (`server.answer.selector`) was trained with.

They extend `server.answer.cues` and `server.answer.lexicon`, which the hand-tuned
ExtractiveAnswerer keeps unchanged: a title kind (quoted titles), relative dates ("ieri")
and "di euro" amounts as spans; `find_span` picks the match with the most question terms
next to it rather than the first one next to any; "impiega" states a headcount
(`CONCEPTS`, for `Asked.parse`). The selector's features are computed with these rules,
so they change only together with its model (`python -m scripts.train_answerer`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from index.lexical import tokenize
from server.answer.cues import _KINDS as _CUE_KINDS
from server.answer.cues import _MONTH, _NAME_WORD, _NOT_NAMES, _PARTICLE, _TITLE, _YEAR
from server.answer.lexicon import CONCEPTS as _CONCEPTS
from server.answer.lexicon import Concept

# The lexicon's concepts, with "impiega 14 persone" stating a headcount.
CONCEPTS: tuple[Concept, ...] = tuple(
    replace(
        c,
        stated=re.compile(
            r"\b(?:dipendent[ie]|addett[io]|lavorator[ie]|organico|personale|occupat[io]|"
            r"impieg\w*|employees|staff|workforce)\b",
            re.I,
        ),
    )
    if c.name == "staff"
    else c
    for c in _CONCEPTS
)

_KINDS = (
    *_CUE_KINDS,
    (
        "title",
        re.compile(
            r"\b(titolo|s[ie] intitola\w*|intitolat\w*|title[sd]?|what is it called|"
            r"come si chiama(no)? (il|lo|la|l'|i|gli|le) (libro|rapporto|progetto|panel|"
            r"bando|evento|convegno|premio|programma))\b",
            re.I,
        ),
    ),
)
KINDS: tuple[str, ...] = tuple(kind for kind, _ in _KINDS)


def question_kind(question: str) -> str | None:
    """What the question asks for: person, date, number, place, title, or None."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


PATTERNS = {
    "person": re.compile(rf"{_TITLE}?{_NAME_WORD}(?:{_PARTICLE}{_NAME_WORD}){{1,2}}"),
    "date": re.compile(
        rf"\b(?:(?:dal\s+|il\s+)?\d{{1,2}}(?:\s+(?:e|al|-)\s+\d{{1,2}})?\s+(?:{_MONTH})"
        rf"(?:\s+\d{{4}})?|(?:{_MONTH})\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|"
        rf"\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|(?:nel|del|dal|entro il|in)\s+\d{{4}}|\d{{4}}|"
        r"ieri|oggi|domani|yesterday|today|tomorrow)\b",
        re.I,
    ),
    "number": re.compile(
        r"(?<![\d.,])\d+(?:[.,]\d+)*(?:\s+(?:mila|milioni|miliardi|million|billion|%|per cento))?"
        r"(?:\s+(?:di\s+)?euro)?(?!\d)",
        re.I,
    ),
    "place": re.compile(
        rf"\b(?:a|in|presso|at|to|al|alla|nel|nella|presso il|presso la)\s+"
        rf"({_NAME_WORD}(?:(?:\s|\s(?:di|del|della)\s){_NAME_WORD})*)"
    ),
    # A quoted title: «Cluster e territori», “Green Deal”, "Open Day".
    "title": re.compile(r"[«“\"]([^«»“”\"]{2,120})[»”\"]"),
}


def _near(
    sentence: str, start: int, end: int, stems: set[str], near: Sequence[re.Pattern[str]]
) -> int:
    """How many question terms, and words that state what is asked, stand next to the span.

    The word right after it counts three times: "320 partecipanti" answers "quanti
    partecipanti" even when "85 incontri" shares more of the question's other words.
    """
    window = sentence[max(0, start - 15) : min(len(sentence), end + 25)]
    following = tokenize(" ".join(sentence[end:].split()[:1]))
    after = 2 * bool(following and following[0] in stems)
    return len(stems & set(tokenize(window))) + after + any(p.search(window) for p in near)


def find_span(
    kind: str | None,
    sentence: str,
    question: str,
    stems: Iterable[str] = (),
    near: Sequence[re.Pattern[str]] = (),
) -> tuple[int, int, bool] | None:
    """Offsets in `sentence` of the answer to a question of `kind`, if one can be found.

    Skips matches the question already contains (the answer is new information) and
    prefers the one with the most question terms next to it ("700 partecipanti" for
    "quanti partecipanti"; words matching one of the `near` patterns, such as "fino al"
    for a deadline, count as one); the first one on a tie.

    Returns:
        (start, end, strong) where strong means a question term stands next to it.
    """
    if kind is None:
        return None
    asked = question.lower()
    terms = set(stems)
    best: tuple[int, int, bool] | None = None
    best_near = 0
    dates = [m.span() for m in PATTERNS["date"].finditer(sentence)] if kind == "number" else []
    for match in PATTERNS[kind].finditer(sentence):
        if any(s <= match.start() < e for s, e in dates):
            continue  # "7 e 8 marzo" is a date, not a count
        group = 1 if kind in ("place", "title") else 0
        text = match.group(group)
        if kind == "person" and text.split()[0] in _NOT_NAMES:
            continue
        if kind == "number" and _YEAR.fullmatch(text.strip()):
            continue
        if text.lower() in asked:
            continue
        start, end = match.start(group), match.end(group)
        near_terms = _near(sentence, start, end, terms, near)
        if best is None or near_terms > best_near:
            best, best_near = (start, end, near_terms > 0), near_terms
    return best
