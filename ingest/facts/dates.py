"""Dates as Italian news write them, resolved against the article's publication date.

Handles full dates ("7 marzo 2024"), year-less ones ("il 14 e 15 novembre", "dal 5 al 7
giugno"), weekdays ("giovedì scorso", "venerdì e sabato scorsi", "martedì prossimo", "giovedì
3 ottobre") and relative words ("ieri", "oggi", "domani"). A year-less date takes the year that
puts it nearest the publication date; a bare weekday is the nearest such day before (or, with
"prossimo", after) publication. Expressions that name no day ("la prossima settimana") are not
resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    "gennaio": 1, "febbraio": 2, "marzo": 3, "aprile": 4, "maggio": 5, "giugno": 6,
    "luglio": 7, "agosto": 8, "settembre": 9, "ottobre": 10, "novembre": 11, "dicembre": 12,
}  # fmt: skip
WEEKDAYS = {
    "lunedì": 0, "martedì": 1, "mercoledì": 2, "giovedì": 3, "venerdì": 4, "sabato": 5,
    "domenica": 6,
}  # fmt: skip

_MONTH = "|".join(MONTHS)
_WEEKDAY = "|".join(WEEKDAYS)
_DAY = r"(\d{1,2})(?:º|°)?"
# "7 e 8 marzo 2024", "dal 5 al 7 giugno", "14-15 novembre", "3 ottobre 2024", "1, 2 e 3 luglio"
_DAY_LIST = re.compile(
    r"\b(?:(?:dal|tra il|fra il)\s+)?"
    + _DAY
    + r"((?:\s*(?:,|e|-|–|al|all['’])\s*\d{1,2})*)\s+("
    + _MONTH
    + r")(?:\s+(\d{4}))?\b",
    re.I,
)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# "giovedì scorso", "venerdì e sabato scorsi", "martedì prossimo", "lo scorso giovedì"
_WEEKDAY_REL = re.compile(
    r"\b(?:(?:lo\s+)?(scors[oa]|prossim[oa])\s+)?((?:"
    + _WEEKDAY
    + r")(?:\s*(?:,|e)\s*(?:"
    + _WEEKDAY
    + r"))*)(?:\s+(scors[oi]|prossim[oi]|della\s+prossima\s+settimana|della\s+settimana\s+"
    r"prossima|della\s+settimana\s+scorsa|della\s+scorsa\s+settimana))?\b",
    re.I,
)
_RELATIVE = re.compile(r"\b(ieri|oggi|domani|l['’]altro\s+ieri|dopodomani)\b", re.I)
_OFFSETS = {"ieri": -1, "oggi": 0, "domani": 1, "dopodomani": 2}


@dataclass(frozen=True, slots=True)
class DateMention:
    """A date expression in a text: where it is, as written, and the days it names."""

    start: int
    end: int
    written: str
    dates: tuple[date, ...]


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nearest_year(month: int, day: int, published: date | None) -> date | None:
    if published is None:
        return None
    options = [_safe(published.year + delta, month, day) for delta in (-1, 0, 1)]
    valid = [d for d in options if d is not None]
    return min(valid, key=lambda d: abs((d - published).days)) if valid else None


def _days(first: str, rest: str) -> list[int]:
    numbers = [int(first), *(int(n) for n in re.findall(r"\d{1,2}", rest))]
    if re.search(r"\bal\b|all['’]|-|–", rest) and len(numbers) == 2 and numbers[1] > numbers[0]:
        return list(range(numbers[0], numbers[1] + 1))  # a range: every day in it
    return numbers


def _weekday_dates(names: str, direction: str, published: date) -> tuple[date, ...]:
    wanted = [WEEKDAYS[w.lower()] for w in re.findall(_WEEKDAY, names, re.I)]
    if not wanted:
        return ()
    forward = direction.startswith("prossim")
    found = []
    for weekday in wanted:
        delta = (published.weekday() - weekday) % 7 or 7
        found.append(published + timedelta(days=7 - delta if forward else -delta))
    if forward:
        return tuple(sorted(found))
    # Consecutive days written in order ("venerdì e sabato scorsi") stay in one week.
    last = max(found)
    return tuple(sorted(last - timedelta(days=(last.weekday() - wd) % 7) for wd in wanted))


def find_dates(
    text: str,
    published: date | None,
    start: int = 0,
    end: int | None = None,
    year_hint: int | None = None,
) -> list[DateMention]:
    """Every date expression in `text[start:end]`, resolved where it can be.

    Without a publication date, `year_hint` (a year the headline names) completes year-less
    days ("7 e 8 marzo"); relative ones ("ieri") stay unresolved.
    """
    end = len(text) if end is None else end
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(s: int, e: int, dates: tuple[date, ...]) -> None:
        if any(s < te and ts < e for ts, te in taken):
            return
        taken.append((s, e))
        found.append(DateMention(s, e, text[s:e], dates))

    for match in _DAY_LIST.finditer(text, start, end):
        month = MONTHS[match.group(3).lower()]
        resolved: list[date] = []
        for day in _days(match.group(1), match.group(2) or ""):
            if match.group(4):
                value = _safe(int(match.group(4)), month, day)
            elif published is None and year_hint is not None:
                value = _safe(year_hint, month, day)
            else:
                value = _nearest_year(month, day, published)
            if value is not None:
                resolved.append(value)
        add(match.start(), match.end(), tuple(resolved))
    for match in _ISO.finditer(text, start, end):
        value = _safe(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        add(match.start(), match.end(), (value,) if value else ())
    if published is not None:
        for match in _WEEKDAY_REL.finditer(text, start, end):
            direction = (match.group(1) or match.group(3) or "").lower()
            if not direction:
                continue  # a bare weekday next to a full date is handled above
            if "settimana" in direction:  # "martedì della prossima settimana": that week's day
                step = 7 if "prossima" in direction else -7
                monday = published - timedelta(days=published.weekday()) + timedelta(days=step)
                days = [WEEKDAYS[w.lower()] for w in re.findall(_WEEKDAY, match.group(2), re.I)]
                add(match.start(), match.end(), tuple(monday + timedelta(days=d) for d in days))
                continue
            add(match.start(), match.end(), _weekday_dates(match.group(2), direction, published))
        for match in _RELATIVE.finditer(text, start, end):
            word = re.sub(r"\s+", " ", match.group(1).lower()).replace("’", "'")
            offset = -2 if word.startswith("l'altro") else _OFFSETS[word]
            add(match.start(), match.end(), (published + timedelta(days=offset),))
    return sorted(found, key=lambda m: m.start)
