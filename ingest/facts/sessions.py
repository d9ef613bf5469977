"""Sessions of an event: a kind word (panel, tavola rotonda, keynote...) and its title."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.facts.names import fold

# Kind words, most specific first. Slots of the programme without a quoted title
# ("Saluti istituzionali", "Conclusioni") are sessions of kind "other".
_KINDS: tuple[tuple[str, str], ...] = (
    ("tavola_rotonda", r"tavol[ae]\s+rotond[ae]|round[- ]table"),
    ("plenaria", r"sessione\s+plenaria|plenaria"),
    ("premiazione", r"cerimonia\s+di\s+premiazione|premiazione|consegna\s+dei\s+premi"),
    ("keynote", r"keynote(?:\s+speech)?|lectio\s+magistralis|relazione\s+introduttiva"),
    ("workshop", r"workshop|laboratorio|masterclass"),
    ("panel", r"panel|dibattito|talk"),
    (
        "other",
        r"saluti\s+istituzionali|apertura\s+dei\s+lavori|chiusura\s+dei\s+lavori|conclusioni",
    ),
)
_KIND_RE = re.compile(
    r"\b(?:" + "|".join(f"(?P<{kind}>{words})" for kind, words in _KINDS) + r")\b", re.I
)
# A quoted title close after the kind word: «…», “…”, "…".
_QUOTED = re.compile(r"[«“\"]([^»”\"]{3,160})[»”\"]")
_BETWEEN = re.compile(r"^[^.;|«“\"]{0,60}$")  # what may stand between kind word and title
# An award with a name of its own: "Premio Giovani Meccatronici 2023".
_AWARD = re.compile(
    r"\b(Premio(?:\s+(?:[A-ZÀ-Þ][\w'’-]*|\d{4}|di|del|della|dei|per|alla|al)){1,6})"
)
_TRAILING_SMALL = re.compile(r"(?:\s+(?:di|del|della|dei|per|alla|al))+$")


@dataclass(frozen=True, slots=True)
class SessionMention:
    """A session named in the text; `title` is None when only the kind word is there."""

    start: int
    end: int
    kind: str
    title: str | None


def _kind_of(match: re.Match[str]) -> str:
    return next(kind for kind, _ in _KINDS if match.group(kind))


def find_sessions(text: str, start: int, end: int) -> list[SessionMention]:
    """Session mentions in `text[start:end]`, in order."""
    found: list[SessionMention] = []
    for match in _KIND_RE.finditer(text, start, end):
        kind = _kind_of(match)
        title: str | None = None
        quoted = _QUOTED.search(text, match.end(), end)
        if quoted and _BETWEEN.match(text[match.end() : quoted.start()]):
            title = quoted.group(1).strip()
        elif kind == "other":
            # The slot's whole name, up to the end of its cell or line.
            slot = re.match(r"[^|()\n;]+", text[match.start() : end])
            title = re.sub(r"\s+", " ", slot.group(0) if slot else match.group(0)).strip()
            title = title[0].upper() + title[1:]
        found.append(SessionMention(match.start(), match.end(), kind, title))
    for match in _AWARD.finditer(text, start, end):
        title = _TRAILING_SMALL.sub("", match.group(1))
        if len(title.split()) >= 2:
            found.append(SessionMention(match.start(), match.end(), "premiazione", title))
    return sorted(found, key=lambda m: m.start)


def same_title(a: str, b: str) -> bool:
    """True when two session titles name the same session (case, accents, quotes aside)."""
    words_a = set(re.findall(r"\w+", fold(a)))
    words_b = set(re.findall(r"\w+", fold(b)))
    if not words_a or not words_b:
        return False
    overlap = len(words_a & words_b) / min(len(words_a), len(words_b))
    return overlap >= 0.8
