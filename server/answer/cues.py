"""Question types and the answer spans they look for (names, dates, numbers, places)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from index.lexical import tokenize
from ingest.text import MONTHS

_EN_WORDS = frozenset(
    """the what who when where which how many much is are was were did does do of in on at
    to for and with about speak spoke panel event attend attended""".split()  # noqa: SIM905
)
_IT_WORDS = frozenset(
    """il lo la le gli i di del della dei delle che chi cosa quando dove quanti quante quanto
    è sono ha hanno al alla nel nella sul sulla per con come qual quale""".split()  # noqa: SIM905
)


def language(question: str) -> str:
    """'en' or 'it' (the default), from common function words."""
    words = re.findall(r"[a-zà-ÿ]+", question.lower())
    english = sum(w in _EN_WORDS for w in words)
    italian = sum(w in _IT_WORDS for w in words)
    return "en" if english > italian else "it"


_KINDS = (
    ("number", re.compile(r"\b(quant[ioa]|quante|how (many|much)|che cifra|numero di)\b", re.I)),
    ("person", re.compile(r"\b(chi|who|whom|whose)\b", re.I)),
    (
        "date",
        re.compile(
            r"\b(quando|when|in che (anno|giorno|data|mese)|what (year|date|day)|"
            r"which (year|date|day)|che anno|entro quando|data|scadenza|deadline)\b",
            re.I,
        ),
    ),
    ("place", re.compile(r"\b(dove|where|in quale (città|luogo|paese|sede))\b", re.I)),
)


def question_kind(question: str) -> str | None:
    """What the question asks for: person, date, number, place, or None."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


_MONTH = "|".join(MONTHS) + (
    "|january|february|march|april|may|june|july|august|september|october|november|december"
)
_TITLE = r"(?:(?:dott\.ssa|dott|dr|prof\.ssa|prof|ing|arch|avv|on|sen)\.?\s+)"
_NAME_WORD = r"[A-ZÀ-Ý][a-zà-ÿ'’]+"
_PARTICLE = r"(?:\s(?:van|von|de|del|della|di|da|dal)\s|\s)"
PATTERNS = {
    "person": re.compile(rf"{_TITLE}?{_NAME_WORD}(?:{_PARTICLE}{_NAME_WORD}){{1,2}}"),
    "date": re.compile(
        rf"\b(?:(?:dal\s+|il\s+)?\d{{1,2}}(?:\s+(?:e|al|-)\s+\d{{1,2}})?\s+(?:{_MONTH})"
        rf"(?:\s+\d{{4}})?|(?:{_MONTH})\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|"
        rf"\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|(?:nel|del|dal|entro il|in)\s+\d{{4}}|\d{{4}})\b",
        re.I,
    ),
    "number": re.compile(
        r"(?<![\d.,])\d+(?:[.,]\d+)*(?:\s+(?:mila|milioni|miliardi|million|billion|%|per cento))?"
        r"(?:\s+di)?(?:\s+euro)?(?!\d)",
        re.I,
    ),
    "place": re.compile(
        rf"\b(?:a|in|presso|at|to|al|alla|nel|nella|presso il|presso la)\s+"
        rf"({_NAME_WORD}(?:(?:\s|\s(?:di|del|della)\s){_NAME_WORD})*)"
    ),
}
_YEAR = re.compile(r"(?:19|20)\d\d")
_EN_MONTHS = [
    *("january", "february", "march", "april", "may", "june"),
    *("july", "august", "september", "october", "november", "december"),
]
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\b", re.I)
# Days relative to the article's publication date.
_RELATIVE = (
    (re.compile(r"\b(?:l'altro ieri|l’altro ieri|the day before yesterday)\b", re.I), -2),
    (re.compile(r"\b(?:ieri|yesterday)\b", re.I), -1),
    (re.compile(r"\b(?:oggi|stamattina|stamani|today)\b", re.I), 0),
    (re.compile(r"\b(?:domani|tomorrow)\b", re.I), 1),
)


def resolve_date(text: str, published: date | None) -> date | None:
    """The full date a partial ("18 giugno") or relative ("ieri") date stands for.

    The year, or the day, comes from the article's publication date; None when `text`
    already holds a year, names no day, or the article has no date.
    """
    if published is None or re.search(r"\b\d{4}\b", text):
        return None
    for pattern, days in _RELATIVE:
        if pattern.search(text):
            return published + timedelta(days=days)
    match = _DAY_MONTH.search(text)
    if not match:
        return None
    name = match.group(2).lower()
    month = MONTHS.get(name) or _EN_MONTHS.index(name) + 1
    try:
        return date(published.year, month, int(match.group(1)))
    except ValueError:  # 31 aprile
        return None


def format_date(day: date, lang: str) -> str:
    """ "18 giugno 2024" or "18 June 2024"."""
    names = list(MONTHS) if lang == "it" else [m.capitalize() for m in _EN_MONTHS]
    return f"{day.day} {names[day.month - 1]} {day.year}"


# Capitalised words that start sentences or name things, not people.
_NOT_NAMES = frozenset(
    """Il Lo La Le Gli I Un Una Al Alla Nel Nella Per Con Dal Della Del Dopo Tra Fra Nel
    Clust-ER Cluster Regione Emilia-Romagna Unione Europea Commissione Horizon Europe The
    Forum Festival Giornata Summit Bando Rapporto Health Tecnopolo""".split()  # noqa: SIM905
)


def _near(
    sentence: str, start: int, end: int, stems: set[str], near: Sequence[re.Pattern[str]]
) -> bool:
    """True when a question term, or a word that states what is asked, is next to the span."""
    window = sentence[max(0, start - 15) : min(len(sentence), end + 25)]
    return bool(stems & set(tokenize(window))) or any(p.search(window) for p in near)


def find_span(
    kind: str | None,
    sentence: str,
    question: str,
    stems: Iterable[str] = (),
    near: Sequence[re.Pattern[str]] = (),
) -> tuple[int, int, bool] | None:
    """Offsets in `sentence` of the answer to a question of `kind`, if one can be found.

    Skips matches the question already contains (the answer is new information) and
    prefers one next to a question term ("700 partecipanti" for "quanti partecipanti")
    or next to a word matching one of the `near` patterns ("fino al" for a deadline).

    Returns:
        (start, end, strong) where strong means a question term stands next to it.
    """
    if kind is None:
        return None
    asked = question.lower()
    terms = set(stems)
    weak: tuple[int, int, bool] | None = None
    dates = [m.span() for m in PATTERNS["date"].finditer(sentence)] if kind == "number" else []
    for match in PATTERNS[kind].finditer(sentence):
        if any(s <= match.start() < e for s, e in dates):
            continue  # "7 e 8 marzo" is a date, not a count
        group = 1 if kind == "place" else 0
        text = match.group(group)
        if kind == "person" and text.split()[0] in _NOT_NAMES:
            continue
        if kind == "number" and _YEAR.fullmatch(text.strip()):
            continue
        if text.lower() in asked:
            continue
        start, end = match.start(group), match.end(group)
        if _near(sentence, start, end, terms, near):
            return start, end, True
        weak = weak or (start, end, False)
    return weak
