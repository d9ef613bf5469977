"""How a question meets the facts: which edition, names and words it shares with an article.

A question that names a year ("nel 2024") or an edition ("la quarta edizione") is about that
edition's article only; a name it gives ("AgriMech") rules out articles that lack it; words
are compared on five-letter stem prefixes, with English city names read as Italian ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from index.lexical import tokenize
from ingest.facts.names import fold
from ingest.facts.types import Facts
from ingest.types import Article, Chunk


@dataclass(frozen=True, slots=True)
class Sourced:
    """An article with its stored chunks and extracted facts."""

    article: Article
    chunks: tuple[Chunk, ...]
    facts: Facts


FactsLookup = Callable[[Sequence[str]], Mapping[str, Sourced]]


ORDINALS = {
    "primo": 0, "prima": 0, "first": 0, "secondo": 1, "seconda": 1, "second": 1,
    "terzo": 2, "terza": 2, "third": 2, "quarto": 3, "quarta": 3, "fourth": 3,
}  # fmt: skip
NOISE = frozenset(
    tokenize(
        "chi who whom quale quali which what che ha hanno è stato stata sono stati was were did "
        "parlato intervenuto intervenuta intervenuti relatori relatrici partecipato moderato "
        "moderatore moderatrice aperto chiuso lavori vinto premiato consegnato giuria coordinato "
        "spoke speak speakers moderated opened closed won jury coordinated panel tavola rotonda "
        "sessione session workshop keynote evento event the on at of a al alla del della nel "
        "nella in about and for with from by to may"
    )
)


_ORDINAL_WORDS = {
    w: n
    for n, words in enumerate(
        [
            ("prima", "primo", "first", "1st", "1ª", "1a"),
            ("seconda", "secondo", "second", "2nd", "2ª", "2a"),
            ("terza", "terzo", "third", "3rd", "3ª", "3a"),
            ("quarta", "quarto", "fourth", "4th", "4ª", "4a"),
            ("quinta", "quinto", "fifth", "5th", "5ª", "5a"),
            ("sesta", "sesto", "sixth", "6th", "6ª", "6a"),
            ("settima", "settimo", "seventh", "7th", "7ª", "7a"),
            ("ottava", "ottavo", "eighth", "8th", "8ª", "8a"),
            ("nona", "nono", "ninth", "9th", "9ª", "9a"),
            ("decima", "decimo", "tenth", "10th", "10ª", "10a"),
        ],
        start=1,
    )
    for w in words
}
_EDITION_OF = re.compile(
    r"\b(\w+)\s+(?:edizione|edition)\b|\b(?:edizione|edition)\s+(\d{4})\b", re.I
)
_YEAR = re.compile(r"\b(20\d\d)\b")
# English names of Italian and European cities, as English questions write them.
_EXONYMS = {
    "turin": "torino", "milan": "milano", "florence": "firenze", "venice": "venezia",
    "naples": "napoli", "genoa": "genova", "rome": "roma", "padua": "padova",
    "mantua": "mantova", "brussels": "bruxelles", "munich": "monaco", "leghorn": "livorno",
    "seville": "siviglia", "lyons": "lione", "lyon": "lione", "marseille": "marsiglia",
    "barcelona": "barcellona", "cologne": "colonia", "nuremberg": "norimberga",
    "syracuse": "siracusa", "sicily": "sicilia", "sardinia": "sardegna", "tuscany": "toscana",
    "lombardy": "lombardia", "piedmont": "piemonte", "apulia": "puglia",
}  # fmt: skip


def with_exonyms(question: str) -> str:
    """The question with English city and region names followed by their Italian names."""
    return re.sub(
        r"\b[A-Z][a-z]+\b",
        lambda m: (
            f"{m.group(0)} {_EXONYMS[m.group(0).lower()]}"
            if m.group(0).lower() in _EXONYMS
            else m.group(0)
        ),
        question,
    )


def edition_number(text: str | None) -> int | None:
    """2 for "seconda edizione", "second edition", "2ª edizione"; None when none is stated."""
    for match in _EDITION_OF.finditer(text or ""):
        if match.group(1) and match.group(1).lower() in _ORDINAL_WORDS:
            return _ORDINAL_WORDS[match.group(1).lower()]
    return None


def _years(sourced: Sourced) -> set[int]:
    """The years an article is about: its events' dates, else its publication and title."""
    event_years = {d.year for e in sourced.facts.events for d in e.dates}
    if event_years:
        return event_years
    found = {int(y) for y in _YEAR.findall(sourced.article.title)}
    if sourced.article.published:
        found.add(sourced.article.published.year)
    return found


def _editions(sourced: Sourced) -> set[int]:
    return {n for e in sourced.facts.events if (n := edition_number(e.edition)) is not None}


def same_occasion(question: str, sourced: Sourced) -> bool:
    """False when the question names a year or an edition the article is not about."""
    asked_years = {int(y) for y in _YEAR.findall(question)}
    if asked_years and not asked_years & _years(sourced):
        return False
    asked_edition = edition_number(question)
    editions = _editions(sourced)
    return asked_edition is None or not editions or asked_edition in editions


def prefixes(terms: set[str]) -> set[str]:
    """Stems cut to five letters: "energia" meets "energetica", "cybersecurity" "cybersicurezza"."""
    return {t[:5] for t in terms}


def _bigrams(term: str) -> set[str]:
    return {term[i : i + 2] for i in range(len(term) - 1)}


def cognates(a: str, b: str) -> bool:
    """Stems of one word in two languages: "electrification" and "elettrif", "sustainabil"
    and "sostenibil" (long stems with one first letter whose shorter one's letter pairs are
    mostly the other's), or one five-letter prefix."""
    if a[:5] == b[:5]:
        return True
    if len(a) < 6 or len(b) < 6 or a[0] != b[0]:
        return False
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / min(len(x), len(y)) >= 0.7


def overlap(question_terms: set[str], text: str) -> float:
    """Share of the shorter side's terms that the other holds (five-letter prefixes, or
    cognates across Italian and English)."""
    terms = set(tokenize(text)) - NOISE
    if not terms or not question_terms:
        return 0.0
    held = {t[:5] for t in terms if any(cognates(t, q) for q in question_terms)}
    return len(held) / min(len(prefixes(terms)), len(prefixes(question_terms)))


_SESSION_ORDINAL = re.compile(
    r"\b(" + "|".join(ORDINALS) + r")\s+(?:panel|tavola|sessione|session|workshop|round|"
    r"keynote|talk|dibattito|debate|incontro)",
    re.I,
)
_MONTH_OR_DAY = re.compile(
    r"^(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$",
    re.I,
)


def other_occasion_only(question: str, retrieved: Sequence[Sourced]) -> bool:
    """True when the articles that hold the question's names are all about another edition.

    "Chi ha vinto il Premio X nell'edizione 2024?" when only the 2023 article names the
    Premio X: the answer is not in the articles, whatever the 2024 articles say of other prizes.
    """
    texts = [fold(s.article.text + " " + s.article.title) for s in retrieved]
    known = [a for a in anchors(question) if any(a in t for t in texts)]
    holders = [s for s, t in zip(retrieved, texts, strict=True) if all(a in t for a in known)]
    # Only event news can be about "another edition": a page without sessions is not.
    if not holders or not any(h.facts.sessions for h in holders):
        return False
    return not any(same_occasion(question, h) for h in holders)


def session_ordinal(question: str) -> int | None:
    """1 for "il secondo panel", "the second panel" (an edition's ordinal does not count)."""
    match = _SESSION_ORDINAL.search(question)
    return ORDINALS[match.group(1).lower()] if match else None


def anchors(question: str) -> list[str]:
    """Folded capitalised words inside the question (not its first word): names it gives."""
    words = re.findall(r"(?<=\s)[A-ZÀ-Þ][\w'’-]{2,}", with_exonyms(question))
    return [fold(w) for w in words if w.lower() not in _EXONYMS and not _MONTH_OR_DAY.match(w)]
