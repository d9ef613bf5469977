"""Pick the parser by file type and turn a file into articles."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import IngestError, UnsupportedFormat
from ingest.html import parse_html
from ingest.jsonl import LineError, parse_jsonl
from ingest.pdf import parse_pdf
from ingest.text import TextDoc, parse_text, read_utf8
from ingest.types import Article, content_hash, stable_id

SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf", ".txt": "text", ".md": "markdown",
            ".markdown": "markdown", ".jsonl": "jsonl"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Parsed:
    """The articles found in one file, plus the JSONL lines that were skipped."""

    path: Path
    articles: list[Article]
    line_errors: list[LineError] = field(default_factory=list)


def sniff_kind(path: Path, head: bytes) -> str:
    """The parser for a file, from its extension, checked against its first bytes.

    Raises:
        UnsupportedFormat: unknown extension, or content that does not match it.
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        supported = ", ".join(sorted(SUFFIXES))
        raise UnsupportedFormat(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; supported: {supported}"
        )
    is_pdf = head.lstrip()[:5] == b"%PDF-"
    if (kind == "pdf") != is_pdf:
        what = "a PDF" if is_pdf else "not a PDF"
        raise UnsupportedFormat(f"{path}: the content is {what}, but the extension says {kind}")
    if kind != "pdf" and b"\x00" in head:
        raise UnsupportedFormat(f"{path}: binary content in a {kind} file")
    return kind


def _article(path: Path, doc: TextDoc, pages: tuple[int, ...] = ()) -> Article:
    key = doc.url or str(path.resolve())
    return Article(
        id=stable_id(key),
        source=str(path),
        title=doc.title,
        text=doc.text,
        url=doc.url,
        published=doc.published,
        sections=doc.sections,
        pages=pages,
        content_hash=content_hash(doc.title, doc.text, doc.url, doc.published),
    )


def parse_file(path: Path) -> Parsed:
    """Parse one file into articles (one, or one per line for JSONL).

    Raises:
        IngestError: the file cannot be read or holds no article; the message names it.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from exc
    kind = sniff_kind(path, head)
    if kind == "pdf":
        doc, pages = parse_pdf(path)
        return Parsed(path, [_article(path, doc, pages)])
    raw = read_utf8(path)
    if kind == "jsonl":
        articles, errors = parse_jsonl(raw, path)
        if not articles and not errors:
            raise IngestError(f"{path}: the JSONL file has no articles")
        return Parsed(path, articles, errors)
    doc = parse_html(raw, path) if kind == "html" else parse_text(raw, path, kind == "markdown")
    return Parsed(path, [_article(path, doc)])


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every file under `paths` (folders walked recursively, hidden entries skipped).

    Files inside folders with an unsupported extension are skipped; a file named
    directly is yielded whatever its extension, so that parsing reports it.

    Raises:
        IngestError: a path does not exist.
    """
    for path in paths:
        if not path.exists():
            raise IngestError(f"{path}: no such file or folder")
        if path.is_file():
            yield path
            continue
        for child in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
            if child.is_file() and not hidden and child.suffix.lower() in SUFFIXES:
                yield child
