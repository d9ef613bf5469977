"""Question types and the answer spans they look for (names, dates, numbers, places)."""

from __future__ import annotations

import re

from ingest.text import MONTHS

_EN_WORDS = frozenset(
    [
        "the",
        "what",
        "who",
        "when",
        "where",
        "which",
        "how",
        "many",
        "much",
        "is",
        "are",
        "was",
        "were",
        "did",
        "does",
        "do",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "and",
        "with",
        "about",
        "speak",
        "spoke",
        "panel",
        "event",
    ]
)
_IT_WORDS = frozenset(
    [
        "il",
        "lo",
        "la",
        "le",
        "gli",
        "i",
        "di",
        "del",
        "della",
        "dei",
        "delle",
        "che",
        "chi",
        "cosa",
        "quando",
        "dove",
        "quanti",
        "quante",
        "quanto",
        "è",
        "sono",
        "ha",
        "hanno",
        "al",
        "alla",
        "nel",
        "nella",
        "sul",
        "sulla",
        "per",
        "con",
        "come",
        "qual",
        "quale",
    ]
)


def language(question: str) -> str:
    """'en' or 'it' (the default), from common function words."""
    words = re.findall(r"[a-zà-ÿ]+", question.lower())
    english = sum(w in _EN_WORDS for w in words)
    italian = sum(w in _IT_WORDS for w in words)
    return "en" if english > italian else "it"


_KINDS = (
    ("number", re.compile(r"\b(quant[io]|quante|how (many|much)|che cifra|numero di)\b", re.I)),
    ("person", re.compile(r"\b(chi|who|whom|whose)\b", re.I)),
    (
        "date",
        re.compile(
            r"\b(quando|when|in che (anno|giorno|data)|what (year|date|day)|"
            r"which (year|date|day)|che anno|data)\b",
            re.I,
        ),
    ),
    ("place", re.compile(r"\b(dove|where|in quale (città|luogo|paese))\b", re.I)),
)


def question_kind(question: str) -> str | None:
    """What the question asks for: person, date, number, place, or None."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


_MONTH = (
    "|".join(MONTHS) + "|january|february|march|april|may|june|july|august|september|"
    "october|november|december"
)
_TITLE = r"(?:(?:dott|dott\.ssa|dr|prof|prof\.ssa|ing|arch|avv|on|sen)\.?\s+)"
_NAME_WORD = r"[A-ZÀ-Ý][a-zà-ÿ'’]+"
_PARTICLE = r"(?:\s(?:van|von|de|del|della|di|da|dal|le|la)\s|\s)"
PATTERNS = {
    "person": re.compile(rf"{_TITLE}?{_NAME_WORD}(?:{_PARTICLE}{_NAME_WORD}){{1,2}}"),
    "date": re.compile(
        rf"\b(?:\d{{1,2}}(?:\s+e\s+\d{{1,2}})?\s+(?:{_MONTH})(?:\s+\d{{4}})?|"
        rf"(?:{_MONTH})\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|"
        rf"(?:nel|del|dal|entro il|in)\s+\d{{4}}|\b\d{{4}}\b)",
        re.I,
    ),
    "number": re.compile(
        r"\b\d[\d.,]*(?:\s+(?:mila|milioni|miliardi|million|billion|%|per cento"
        r"|euro))*(?:\s+di\s+euro|\s+euro)?",
        re.I,
    ),
    "place": re.compile(rf"\b(?:a|in|presso|at|to)\s+({_NAME_WORD}(?:\s{_NAME_WORD})*)"),
}

# Capitalised words that start sentences or name things, not people.
_NOT_NAMES = frozenset(
    [
        "Il",
        "Lo",
        "La",
        "Le",
        "Gli",
        "I",
        "Un",
        "Una",
        "Al",
        "Alla",
        "Nel",
        "Nella",
        "Per",
        "Con",
        "Dal",
        "Della",
        "Del",
        "Clust-ER",
        "Cluster",
        "Regione",
        "Emilia-Romagna",
        "Unione",
        "Europea",
        "Commissione",
        "Horizon",
        "Europe",
        "The",
    ]
)


def find_span(kind: str | None, sentence: str, question: str) -> tuple[int, int] | None:
    """Offsets in `sentence` of the answer to a question of `kind`, if one can be found.

    Prefers a match that the question does not already contain (the answer is new
    information).
    """
    if kind is None:
        return None
    pattern = PATTERNS[kind]
    asked = question.lower()
    best = None
    for match in pattern.finditer(sentence):
        group = 1 if kind == "place" else 0
        text = match.group(group)
        if kind == "person" and text.split()[0] in _NOT_NAMES:
            continue
        if text.lower() in asked:
            continue
        best = (match.start(group), match.end(group))
        break
    return best
