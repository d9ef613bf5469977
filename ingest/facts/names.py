"""People's names: a first name from a shipped gazetteer followed by capitalised surnames.

The first-name list is gender-guesser's dictionary (about 48,000 European first names, Italian
ones included), loaded once. A name is only a candidate: the extractor keeps the people the
article gives a role.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Honorifics written before names ("dott.ssa", "ing.", "prof."), dropped from the name.
_TITLE = r"(?:(?:dott|dr|ing|prof|avv|arch|geom|on|sen|sig|rag|mons)\.(?:ssa|ra)?\s+)?"
_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
_WORD = rf"(?:[DdLl][’'])?[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
_PARTICLE = (
    r"(?:de|van|von|der|den|dos|das|du|ten|ter)"  # lower-case only; Italian ones are prepositions
)
# A first name, optionally a second given name, then one or two surname words.
_CANDIDATE = re.compile(
    rf"(?<![\w’'-]){_TITLE}({_WORD}(?:\s+{_WORD})?(?:\s+(?:{_PARTICLE}\s+)?{_WORD}){{1,2}})(?![\w-])"
)
_WORD_START = re.compile(r"(?<![\w’'.-])\w")  # where a candidate may begin
# Capitalised words that follow a first name without being a surname.
_NOT_SURNAME = frozenset(
    """
    il lo la i gli le un una di del della dei delle in con per su tra fra e ed o ma che
    gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre
    lunedì martedì mercoledì giovedì venerdì sabato domenica
    srl spa università politecnico comune regione provincia camera cluster forum summit day
    award prize prix premio festival conference conferenza award
    """.split()  # noqa: SIM905
)
_CAPITAL_PARTICLES = frozenset(
    ["di", "de", "del", "della", "dello", "da", "dal", "dalla", "lo", "la", "le", "li"]
)
# Given names that are far more often places or words in this kind of news, and short words
# the gazetteer lists as names in other languages.
_NOT_FIRST = frozenset(
    """
    emilia italia romagna europa marina santa san monte valle porto villa sole stella
    grande nord sud est ovest alba aurora fortuna gloria speranza vittoria
    il lo la le gli per con tra fra dal nel del al sul de di da van von el
    """.split()  # noqa: SIM905
)
# What stands before a word that is not the start of a person's name: an article or
# preposition ("del Polo Energia Piemonte") or another capitalised word ("Istituto Leonardo").
_BEFORE_NOT_NAME = re.compile(
    r"(?:\b(?:il|lo|la|i|gli|le|del|dello|della|dei|degli|delle|al|allo|alla|dal|dallo|dalla|"
    r"nel|nello|nella|negli|sul|sullo|sulla|un|una)\s+|\b[ldLD]['’]|(?<![.!?:;|•]\s)(?<!^)"
    r"\b[A-ZÀ-Þ][\w-]+\s+)$"
)


@dataclass(frozen=True, slots=True)
class NameMention:
    """A person's name in the text, without honorifics."""

    start: int
    end: int
    name: str


def fold(value: str) -> str:
    """Lower case without accents: the key two spellings of one name share."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@functools.cache
def _gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """Folded first names from gender-guesser's dictionary: all, and those used in Italy."""
    from gender_guesser.detector import Detector  # 0.2 s to load: only when first needed

    detector = Detector(case_sensitive=False)
    italy = detector.COUNTRIES.index("italy")
    everywhere = frozenset(fold(name) for name in detector.names)
    italian = frozenset(
        fold(name)
        for name, by_gender in detector.names.items()
        if any(len(counts) > italy and counts[italy] != " " for counts in by_gender.values())
    )
    return everywhere, italian


def first_names() -> frozenset[str]:
    """Folded first names of every country gender-guesser knows."""
    return _gazetteer()[0]


def italian_first_names() -> frozenset[str]:
    """Folded first names gender-guesser records as used in Italy."""
    return _gazetteer()[1]


def _starts_sentence(before: str) -> bool:
    """True when a capitalised word before the candidate itself opens a sentence or cell."""
    match = re.search(r"(^|[.!?:;|•(\n]\s*)([A-ZÀ-Þ][\w-]+)\s+$", before)
    return match is not None and fold(match.group(2)) in _SENTENCE_OPENERS


_SENTENCE_OPENERS = frozenset(
    """
    sul palco ha hanno con per tra dopo poi anche infine ieri oggi sabato domenica lunedì
    martedì mercoledì giovedì venerdì keynote panel moderatore moderatrice modera relatori
    giuria intervento saluti conclusioni chiusura apertura premio
    """.split()  # noqa: SIM905
)


def find_names(text: str, start: int = 0, end: int | None = None) -> list[NameMention]:
    """People's full names in `text[start:end]` (a first name and at least one surname)."""
    end = len(text) if end is None else end
    known = first_names()
    found = []
    covered = start
    for word_start in _WORD_START.finditer(text, start, end):
        if word_start.start() < covered:
            continue
        match = _CANDIDATE.match(text, word_start.start(), end)
        if match is None:
            continue
        before = text[max(0, match.start() - 30) : match.start()]
        if _BEFORE_NOT_NAME.search(before) and not _starts_sentence(before):
            # After an organisation's name ("Clust-ER Innovate Elisabetta Bracci") only a
            # first name in use in Italy starts a person: "Polo Energia", "Val Nure" do not.
            capitalised_before = re.search(r"[A-ZÀ-Þ][\w-]+\s+$", before) is not None
            first_word = fold(re.split(r"[\s.]+", match.group(1))[0])
            if not (capitalised_before and first_word in italian_first_names()):
                continue
        words = re.split(r"\s+", match.group(1))
        first = fold(words[0])
        if first not in known or first in _NOT_FIRST:
            continue
        # Cut the name at the first word that cannot be part of it.
        kept = [words[0]]
        for word in words[1:]:
            # "Di Maio", "De Luca": a capitalised preposition inside a name is a particle.
            if fold(word) in _NOT_SURNAME and not (
                word[0].isupper() and fold(word) in _CAPITAL_PARTICLES
            ):
                break
            kept.append(word)
        if len(kept) < 2 or kept[-1].lower() in {"de", "di", "da", "del", "della", "van", "von"}:
            continue
        name_start = match.start(1)
        name_text = " ".join(kept)
        # Offsets of the kept words in the original text (whitespace may be a newline).
        span = re.compile(r"\s+".join(re.escape(w) for w in kept)).match(text, name_start)
        if span is None:
            continue
        found.append(NameMention(span.start(), span.end(), name_text))
        covered = span.end()
    return found
