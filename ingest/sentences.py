"""Italian-aware sentence splitting that returns character spans, never copies."""

from __future__ import annotations

import re

# Words that end with a period without ending the sentence (lower-cased, without the period).
ABBREVIATIONS = frozenset(
    """
    dott dr dott.ssa dssa prof prof.ssa ing avv arch geom rag sig sigg sig.ra sig.na
    on sen gen col magg cav comm mons don sr jr mr mrs ms st
    ecc etc es p.es ad.es cfr vd pag pagg art artt cap capp n nr num tel fax
    vol voll ed eds fig tab par c.a s.p.a spa s.r.l srl s.n.c snc s.a.s sas
    ca circa vs v min max mld mln no int dip univ ist ass soc coop fond reg prov
    a.c d.c lett all e.g i.e u.s u.e
    gen feb mar apr mag giu lug ago set ott nov dic
    """.split()  # noqa: SIM905
)

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then space.
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'«“‘(\[]*[A-ZÀ-ÖØ-Þ0-9]")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial."""
    if text[dot] != ".":
        return False
    match = _WORD_BEFORE.search(text, 0, dot)
    if not match:
        return False
    word = match.group(1).lower().strip(".")
    if word in ABBREVIATIONS:
        return True
    # Single-letter initials ("M. Rossi") and dotted acronyms ("U.E.").
    last = word.rsplit(".", 1)[-1]
    return len(last) == 1 and last.isalpha()


def _split_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        stop = match.end()
        if not _NEXT_START.match(text, stop, end):
            continue
        if (
            _is_abbreviation(text, match.start())
            and match.group().startswith(".")
            and len(match.group()) == 1
        ):
            continue
        spans.append((cursor, stop))
        cursor = stop
    spans.append((cursor, end))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split `text[start:end]` into sentences.

    Paragraph breaks, line breaks before list bullets and single newlines end a sentence;
    so do `.`, `!`, `?` and `…` followed by a capital letter or digit, unless the period
    closes an abbreviation ("dott.", "ecc.", "p.es."), an initial or a decimal ("2,5", "3.2").

    Returns:
        `(start, end)` offsets into `text`, whitespace trimmed, in order.
    """
    stop = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    block_start = start
    breaks = [m.start() for m in re.finditer(r"\n", text[start:stop])]
    edges = [start + b for b in breaks] + [stop]
    for edge in edges:
        for s, e in _split_block(text, block_start, edge):
            trimmed = _trim(text, s, e)
            if trimmed:
                spans.append(trimmed)
        block_start = edge
    return spans
