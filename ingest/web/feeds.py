"""RSS 2.0, RSS 1.0 and Atom feeds through feedparser: the items' links and change stamps."""

from __future__ import annotations

import hashlib
import xml.sax
from dataclasses import dataclass
from urllib.parse import urljoin

import feedparser

from ingest.errors import FetchError


@dataclass(frozen=True, slots=True)
class Entry:
    """An item a feed or sitemap lists.

    `stamp` changes when the listing says the item changed (its date, and for a feed its
    title and summary); None when the listing gives no date, so the item's page has to be
    asked (with a conditional GET) to know.
    """

    url: str
    stamp: str | None
    title: str = ""


def _stamp(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def parse_feed(body: bytes, url: str, content_type: str = "") -> tuple[list[Entry], str | None]:
    """The feed's items (links resolved against `url`, each once, in feed order).

    Returns:
        The items, and a problem to report when the XML is broken but items were read
        before the break (they are kept), else None.

    Raises:
        FetchError: not a feed, or invalid XML with no item readable.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise FetchError(f"{url}: not a feed")
    problem = None
    exc = parsed.get("bozo_exception")
    # feedparser also flags harmless things (a missing content type, a charset override).
    if isinstance(exc, xml.sax.SAXException):
        line = exc.getLineNumber() if isinstance(exc, xml.sax.SAXParseException) else None
        where = f" at line {line}" if line else ""
        problem = f"invalid XML{where} ({' '.join(str(exc.getMessage()).split())})"
    if not parsed.get("version") and not parsed.entries:
        raise FetchError(f"{url}: {problem or 'not a feed'}")
    entries: list[Entry] = []
    seen: set[str] = set()
    for item in parsed.entries:
        link = item.get("link") or _enclosure(item)
        if not link:
            continue
        link = urljoin(url, link.strip())
        if link in seen:
            continue
        seen.add(link)
        dated = item.get("updated") or item.get("published") or ""
        stamp = _stamp(link, dated, item.get("title", ""), item.get("summary", ""))
        entries.append(Entry(link, stamp if dated else None, item.get("title", "")))
    if problem and not entries:
        raise FetchError(f"{url}: {problem}")
    if problem:
        problem = f"{problem}; {len(entries)} items read before it were kept"
    return entries, problem


def _enclosure(item: feedparser.FeedParserDict) -> str | None:
    """The first link of an item whose article is an attachment (a PDF, say)."""
    for link in item.get("links", []):
        if link.get("rel") == "enclosure" and link.get("href"):
            return str(link["href"])
    return None
