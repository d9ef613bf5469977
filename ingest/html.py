"""HTML pages: main text, title, date and canonical URL through trafilatura."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import trafilatura

from ingest.errors import EmptyArticle
from ingest.text import TextDoc, drop_leading_line, markdown_to_text, parse_date

# Shorter extractions are navigation or cookie banners, not articles.
MIN_TEXT_CHARS = 40


def parse_html(raw: str, path: Path | str) -> TextDoc:
    """Extract the article from a full HTML page, dropping menus, footers and ads.

    `path` is the file, or the URL (a string) the page was fetched from. Headings come
    through as sections; the page's own <h1> becomes the title when it repeats the
    metadata title.
    """
    document = trafilatura.bare_extraction(
        raw,
        with_metadata=True,
        include_formatting=True,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
    )
    if document is None:
        raise EmptyArticle(f"{path}: no main article text found in the HTML")
    fields: dict[str, Any] = document.as_dict() if hasattr(document, "as_dict") else document
    text, sections, h1 = markdown_to_text(fields.get("text") or "")
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise EmptyArticle(f"{path}: no main article text found in the HTML")
    stem = path.stem if isinstance(path, Path) else PurePosixPath(urlsplit(path).path).stem
    title = (fields.get("title") or h1 or stem or str(path)).strip()
    if h1:
        text, sections = drop_leading_line(text, sections, h1)
    return TextDoc(
        title=title,
        text=text,
        sections=sections,
        url=fields.get("url") or None,
        published=parse_date(fields.get("date") or ""),
    )
