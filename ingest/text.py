"""Plain text and Markdown: front matter, headings as sections, dates in Italian."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.errors import BadEncoding, EmptyArticle
from ingest.types import Section

MONTHS = {
    "gennaio": 1, "febbraio": 2, "marzo": 3, "aprile": 4, "maggio": 5, "giugno": 6,
    "luglio": 7, "agosto": 8, "settembre": 9, "ottobre": 10, "novembre": 11, "dicembre": 12,
}  # fmt: skip
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_IT_DATE = re.compile(r"\b(\d{1,2})(?:º|°)?\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b", re.I)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|])")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
# A first line up to this long can be a headline; a longer one is a paragraph.
TITLE_MAX_CHARS = 160
# A title made from the text's first words is cut near this length.
DERIVED_TITLE_CHARS = 100


@dataclass(frozen=True, slots=True)
class TextDoc:
    """What a text-like source yields before it becomes an Article."""

    title: str
    text: str
    sections: tuple[Section, ...]
    url: str | None = None
    published: date | None = None


def parse_date(value: str) -> date | None:
    """Read an ISO (2024-03-07) or Italian (7 marzo 2024) date; None when there is none."""
    match = _ISO_DATE.search(value)
    try:
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
        match = _IT_DATE.search(value)
        if match:
            return date(int(match[3]), MONTHS[match[2].lower()], int(match[1]))
    except ValueError:
        return None
    return None


def read_utf8(path: Path) -> str:
    """Read a file as strict UTF-8 (BOM dropped), naming the bad byte's offset on failure."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadEncoding(
            f"{path}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8"
        ) from exc


def _front_matter(raw: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, raw[match.end() :]


def markdown_to_text(markdown: str) -> tuple[str, tuple[Section, ...], str | None]:
    """Strip Markdown marks, keeping headings as their own lines.

    Returns:
        The plain text, its sections (heading offsets), and the first level-1 heading.
    """
    lines: list[str] = []
    sections: list[Section] = []
    first_h1: str | None = None
    for raw_line in markdown.splitlines():
        line = raw_line.rstrip()
        heading = _HEADING.match(line)
        if heading:
            line = _inline(heading.group(2))
            if heading.group(1) == "#" and first_h1 is None and not sections:
                first_h1 = line
            sections.append(Section(0, line))
        else:
            line = _inline(line)
        lines.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text, tuple(_reindex(text, sections)), first_h1


def _inline(line: str) -> str:
    line = _LINK.sub(r"\1", line)
    line = _EMPHASIS.sub(r"\2", line)
    return _ESCAPE.sub(r"\1", line)


def _reindex(text: str, sections: list[Section]) -> list[Section]:
    """Find each heading line again after blank lines were collapsed."""
    found: list[Section] = []
    cursor = 0
    for section in sections:
        match = re.compile(r"^" + re.escape(section.title) + r"$", re.M).search(text, cursor)
        if match:
            found.append(Section(match.start(), section.title))
            cursor = match.end()
    return found


def drop_leading_line(
    text: str, sections: tuple[Section, ...], line: str
) -> tuple[str, tuple[Section, ...]]:
    """Remove `line` (the title) from the start of `text`, shifting section offsets."""
    if not text.startswith(line):
        return text, sections
    cut = len(line)
    while cut < len(text) and text[cut] == "\n":
        cut += 1
    shifted = tuple(Section(s.start - cut, s.title) for s in sections if s.start >= cut)
    return text[cut:], shifted


def is_title_line(line: str, after: str) -> bool:
    """True when `line`, followed by `after`, reads as a headline of its own.

    A headline is short and ends no sentence, and the next line does not continue it (a
    hard-wrapped paragraph goes on in lower case).
    """
    line = line.strip()
    if not line or len(line) > TITLE_MAX_CHARS or line.endswith((".", ",", ";", ":")):
        return False
    following = after.split("\n", 1)[0].strip()
    return not (following and following[0].islower())


def is_kicker(line: str) -> bool:
    """A category line above a headline: a few words, all in capitals ("EVENTI E CONVEGNI")."""
    line = line.strip()
    letters = [c for c in line if c.isalpha()]
    return 0 < len(line.split()) <= 5 and bool(letters) and line == line.upper()


def derived_title(text: str) -> str:
    """A title for a text that has none: its first line, cut after a word when long."""
    first = text.strip().split("\n", 1)[0].strip()
    if len(first) <= TITLE_MAX_CHARS:
        return first
    cut = first.rfind(" ", 0, DERIVED_TITLE_CHARS)
    return first[: cut if cut > 0 else DERIVED_TITLE_CHARS].rstrip(" ,;:") + "…"


def _title_from_first_line(
    text: str, sections: tuple[Section, ...]
) -> tuple[str, str, tuple[Section, ...]]:
    """Title, body and sections when nothing names the title: a separate headline line
    leaves the body; anything else stays in it and the title is made from its first words.
    """
    first, _, rest = text.partition("\n")
    headline, _, after = rest.lstrip("\n").partition("\n")
    if is_kicker(first) and after.strip() and is_title_line(headline, after):
        # "ATTIVITÀ INTERNAZIONALI" above the headline: the headline is the title, the
        # kicker stays as the text's first line (the facts name it the article's section).
        start = text.index(headline, len(first))
        cut = start + len(headline)
        while cut < len(text) and text[cut] == "\n":
            cut += 1
        body = f"{first}\n\n{text[cut:]}"
        shift = cut - len(first) - 2
        shifted = tuple(Section(s.start - shift, s.title) for s in sections if s.start >= cut)
        return headline.strip(), body, shifted
    if rest.strip() and is_title_line(first, rest):
        body, shifted = drop_leading_line(text, sections, first)
        return first.strip(), body, shifted
    return derived_title(text), text, sections


def parse_text(raw: str, path: Path, markdown: bool) -> TextDoc:
    """Parse a .txt or .md body: front matter (title, date, url) if present, else the first
    heading, else a short first line of its own as the title (else the first words).
    """
    fields, body = _front_matter(raw.replace("\r\n", "\n").replace("\r", "\n"))
    if markdown or any(_HEADING.match(line) for line in body.splitlines()[:1]):
        text, sections, h1 = markdown_to_text(body)
    else:
        text, sections, h1 = body.strip("\n"), (), None
    title = fields.get("title") or h1
    if not title:
        title, text, sections = _title_from_first_line(text, sections)
    elif h1 and title == h1:
        text, sections = drop_leading_line(text, sections, h1)
    if not text.strip():
        raise EmptyArticle(f"{path}: no article text")
    published = parse_date(fields.get("date", "")) or parse_date(text[:300])
    return TextDoc(
        title=title.strip()[:300],
        text=text,
        sections=sections,
        url=fields.get("url") or None,
        published=published,
    )
