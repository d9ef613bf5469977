"""Sentence-aware chunking with exact character offsets into the article text."""

from __future__ import annotations

from ingest.sentences import sentence_spans
from ingest.types import Article, Chunk


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than `size` at whitespace so no piece exceeds `size`."""
    pieces: list[tuple[int, int]] = []
    while end - start > size:
        cut = text.rfind(" ", start + 1, start + size)
        if cut <= start:
            cut = start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


def _units(article: Article, size: int) -> list[tuple[int, int]]:
    units: list[tuple[int, int]] = []
    for start, end in sentence_spans(article.text):
        units.extend(_split_long(article.text, start, end, size))
    return units


def chunk(article: Article, size: int = 1200, overlap: int = 200) -> list[Chunk]:
    """Pack whole sentences into chunks of at most about `size` characters.

    A chunk never starts mid-sentence and never crosses a section heading. Consecutive
    chunks of one section share the trailing sentences of the previous chunk, up to
    `overlap` characters, so a fact on a boundary is whole in at least one chunk.

    Args:
        article: the article to split.
        size: target maximum chunk length in characters.
        overlap: how many characters of trailing sentences to repeat in the next chunk.

    Returns:
        Chunks in reading order with `article.text[c.start:c.end] == c.text`.
    """
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, size), got {overlap}")
    section_starts = {s.start for s in article.sections}
    units = _units(article, size)
    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for unit in units:
        new_section = unit[0] in section_starts
        too_long = current and unit[1] - current[0][0] > size
        if current and (new_section or too_long):
            groups.append(current)
            current = [] if new_section else _tail(current, overlap, unit, size)
        current.append(unit)
    if current:
        groups.append(current)
    return [_make_chunk(article, n, g) for n, g in enumerate(groups)]


def _tail(
    group: list[tuple[int, int]], overlap: int, nxt: tuple[int, int], size: int
) -> list[tuple[int, int]]:
    """The trailing units of `group` to repeat, keeping the next chunk within `size`."""
    tail: list[tuple[int, int]] = []
    for unit in reversed(group[1:]):
        if group[-1][1] - unit[0] > overlap or nxt[1] - unit[0] > size:
            break
        tail.insert(0, unit)
    return tail


def _make_chunk(article: Article, ordinal: int, group: list[tuple[int, int]]) -> Chunk:
    start, end = group[0][0], group[-1][1]
    return Chunk(
        id=f"{article.id}:{ordinal}",
        article_id=article.id,
        ordinal=ordinal,
        text=article.text[start:end],
        start=start,
        end=end,
        heading=article.heading_at(start),
        page=article.page_at(start),
    )
