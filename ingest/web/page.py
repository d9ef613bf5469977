"""What a fetched URL holds (feed, sitemap, HTML page or PDF), and a page as an Article."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml.etree import ParserError

from ingest.errors import FetchError, IngestError
from ingest.html import parse_html
from ingest.pdf import parse_pdf
from ingest.types import Article, content_hash, stable_id
from ingest.web.charset import decode_html
from ingest.web.fetch import Fetched

Kind = Literal["feed", "sitemap", "html", "pdf"]
# The first element of an XML document, after its prolog, comments and doctype.
_ROOT = re.compile(rb"<(?![?!])([\w:.-]+)")
_FEED_ROOTS = {b"rss", b"feed", b"rdf:rdf", b"rdf"}
_SITEMAP_ROOTS = {b"urlset", b"sitemapindex"}
_HTML_START = re.compile(rb"\A\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_XML_TYPES = ("application/xml", "text/xml", "application/rss+xml", "application/atom+xml",
              "application/rdf+xml")  # fmt: skip


def kind_of(fetched: Fetched) -> Kind:
    """Tell a feed, a sitemap, an HTML page and a PDF apart by their bytes first.

    Raises:
        FetchError: none of them (the content type is named).
    """
    body = fetched.body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"%PDF-"):
        return "pdf"
    if body[:2] == b"\x1f\x8b":
        return "sitemap"  # a gzipped file: sitemaps are the ones served so
    if _HTML_START.match(body[:4096]):
        return "html"
    match = _ROOT.search(body[:4096]) if body.startswith(b"<") else None
    root = match[1].lower() if match else b""
    if root in _FEED_ROOTS:
        return "feed"
    if root in _SITEMAP_ROOTS:
        return "sitemap"
    if fetched.content_type in ("text/html", "application/xhtml+xml") and root != b"":
        return "html"
    if root or fetched.content_type in _XML_TYPES:
        what = f"XML with root <{root.decode('ascii', 'replace')}>" if root else "XML"
        raise FetchError(f"{fetched.url}: not a feed or sitemap ({what})")
    shown = fetched.content_type or "no content type"
    raise FetchError(f"{fetched.url}: not an HTML page, PDF, feed or sitemap ({shown})")


def clean_url(url: str) -> str:
    """`url` without its #fragment, which names a place in a page, not another page."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))


def canonical_link(html: str, base: str) -> str | None:
    """The absolute http(s) URL of the page's `<link rel=canonical>`, if it has one."""
    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return None
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in rels and href:
            url = clean_url(urljoin(base, href))
            return url if urlsplit(url).scheme in ("http", "https") else None
    return None


def page_article(fetched: Fetched, kind: Kind) -> Article:
    """The article of an HTML page or PDF, keyed by its canonical URL.

    The canonical URL is the page's `<link rel=canonical>` (resolved against the final
    URL), else the URL the redirects ended at; it is the article's `source` and `url`,
    and its hash the article's id, so the same page reached by two URLs is one article.

    Raises:
        IngestError: the page holds no article text, or is not HTML or PDF.
    """
    final = clean_url(fetched.final_url)
    pages: tuple[int, ...] = ()
    if kind == "html":
        text, _charset = decode_html(fetched.body, fetched.charset)
        doc = parse_html(text, final)
        canonical = canonical_link(text, final) or final
    elif kind == "pdf":
        doc, pages = parse_pdf(final, fetched.body)
        canonical = final
    else:
        raise IngestError(f"{fetched.url}: a {kind}, not an HTML page or PDF")
    return Article(
        id=stable_id(canonical),
        source=canonical,
        title=doc.title,
        text=doc.text,
        url=canonical,
        published=doc.published,
        sections=doc.sections,
        pages=pages,
        content_hash=content_hash(doc.title, doc.text, canonical, doc.published),
    )
