"""XML sitemaps (urlset and sitemapindex, gzipped or not), read with the standard library."""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from urllib.parse import urljoin
from xml.etree import ElementTree

from ingest.errors import FetchError
from ingest.web.feeds import Entry

# Sitemaps hold at most 50,000 URLs and 50 MB uncompressed (sitemaps.org).
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _gunzip(body: bytes, url: str) -> bytes:
    try:
        data = gzip.GzipFile(fileobj=io.BytesIO(body)).read(MAX_SITEMAP_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FetchError(f"{url}: not a readable gzip file ({exc})") from exc
    if len(data) > MAX_SITEMAP_BYTES:
        raise FetchError(f"{url}: the sitemap is over 50 MB uncompressed")
    return data


def parse_sitemap(body: bytes, url: str) -> tuple[list[Entry], list[str]]:
    """The pages a sitemap lists and the child sitemaps a sitemap index lists.

    A page's stamp is its `<lastmod>` (None when absent).

    Raises:
        FetchError: invalid XML, or XML that is not a sitemap.
    """
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, url)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise FetchError(f"{url}: invalid XML ({exc})") from exc
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise FetchError(f"{url}: not a sitemap (XML root <{kind}>)")
    pages: list[Entry] = []
    children: list[str] = []
    seen: set[str] = set()
    for node in root:
        fields = {_local(child.tag): (child.text or "").strip() for child in node}
        loc = fields.get("loc")
        if not loc:
            continue
        loc = urljoin(url, loc)
        if loc in seen:
            continue
        seen.add(loc)
        if kind == "sitemapindex":
            children.append(loc)
            continue
        lastmod = fields.get("lastmod")
        stamp = hashlib.sha256(f"{loc}\x1f{lastmod}".encode()).hexdigest()[:24]
        pages.append(Entry(loc, stamp if lastmod else None))
    return pages, children
