"""Ingest a URL: a page, or every item of a feed or sitemap, fetching only what may have changed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from index.docstore import DocStore
from index.sources_store import SourcesStore, WebItem
from ingest.chunk import chunk
from ingest.errors import FetchError, IngestError
from ingest.web.feeds import Entry, parse_feed
from ingest.web.fetch import Fetched, Fetcher
from ingest.web.page import Kind, kind_of, page_article
from ingest.web.sitemap import parse_sitemap
from server.extraction import facts_of
from server.pipeline import IngestReport, chunking_key, fingerprint

logger = logging.getLogger(__name__)

# A sitemap index may point at sitemap indexes; deeper nesting is not followed.
MAX_SITEMAP_DEPTH = 3
Progress = Callable[[int, int], None]


@dataclass
class WebIngest:
    """What ingesting URLs needs: the store, its sources tables, a fetcher, chunk settings."""

    store: DocStore
    fetcher: Fetcher
    chunk_chars: int
    chunk_overlap: int

    def __post_init__(self) -> None:
        self.sources = SourcesStore(self.store)
        self.chunking = chunking_key(self.chunk_chars, self.chunk_overlap)

    def ingest(
        self, url: str, report: IngestReport, progress: Progress | None = None
    ) -> str | None:
        """Store the article(s) behind `url`; every failure is one line in `report.failed`.

        Returns:
            What `url` held (feed, sitemap, html, pdf), None when it could not be read.
        """
        return self._listing_or_page(url, report, progress, depth=0)

    def _known(self, url: str) -> WebItem | None:
        """The last good fetch of `url`, if it is still good to compare with: same chunk
        settings and, for a page, its articles still stored (not deleted meanwhile)."""
        item = self.sources.item(url)
        if item is None or item.chunking != self.chunking:
            return None
        if item.kind in ("html", "pdf") and not self.store.fingerprint(url):
            return None
        return item

    def _get(self, url: str, item: WebItem | None, report: IngestReport) -> Fetched | None:
        try:
            return self.fetcher.get(url, *((item.etag, item.last_modified) if item else ()))
        except FetchError as exc:
            _fail(report, url, exc)
            return None

    def _listing_or_page(
        self, url: str, report: IngestReport, progress: Progress | None, depth: int
    ) -> str | None:
        item = self._known(url)
        fetched = self._get(url, item, report)
        if fetched is None:
            return None
        if fetched.not_modified and item is not None:
            if item.kind in ("html", "pdf"):
                self._unchanged(url, report)
            else:
                entries = [Entry(u, s) for u, s in item.entries]
                self._entries(item.kind, entries, report, progress, depth)
            return item.kind
        try:
            kind = kind_of(fetched)
        except FetchError as exc:
            _fail(report, url, exc)
            return None
        if kind in ("html", "pdf"):
            self._store_page(fetched, kind, None, report)
            return kind
        try:
            entries = self._parse_listing(fetched, kind, report)
        except FetchError as exc:
            _fail(report, url, exc)
            return None
        self._remember(fetched, kind, None, entries)
        self._entries(kind, entries, report, progress, depth)
        return kind

    def _parse_listing(self, fetched: Fetched, kind: str, report: IngestReport) -> list[Entry]:
        if kind == "feed":
            entries, problem = parse_feed(fetched.body, fetched.final_url, fetched.content_type)
            if problem:
                report.failed.append((fetched.url, problem))
            return entries
        pages, children = parse_sitemap(fetched.body, fetched.final_url)
        # A sitemap index's children are listings themselves: marked with the stamp "index".
        return pages + [Entry(child, "sitemap-index") for child in children]

    def _entries(
        self,
        kind: str,
        entries: list[Entry],
        report: IngestReport,
        progress: Progress | None,
        depth: int,
    ) -> None:
        if progress:
            progress(0, len(entries))
        for done, entry in enumerate(entries, start=1):
            if entry.stamp == "sitemap-index":
                if depth < MAX_SITEMAP_DEPTH:
                    self._listing_or_page(entry.url, report, None, depth + 1)
                else:
                    report.failed.append((entry.url, "sitemap nested too deep; not followed"))
            else:
                self._item(entry, report)
            if progress:
                progress(done, len(entries))
        logger.info("read %d items of %s", len(entries), kind)

    def _item(self, entry: Entry, report: IngestReport) -> None:
        """One item of a listing: skipped when its listing stamp is the stored one, else
        asked with a conditional GET and stored when its bytes changed."""
        item = self._known(entry.url)
        if item is not None and entry.stamp is not None and item.stamp == entry.stamp:
            self._unchanged(entry.url, report)
            return
        fetched = self._get(entry.url, item, report)
        if fetched is None:
            return
        if fetched.not_modified and item is not None:
            self._unchanged(entry.url, report)
            self._remember(fetched, item.kind, entry.stamp, (), item)
            return
        try:
            kind: Kind | None = kind_of(fetched)
        except FetchError:
            kind = None
        if kind == "html" or kind == "pdf":
            self._store_page(fetched, kind, entry.stamp, report)
            return
        shown = kind or fetched.content_type or "no content type"
        report.failed.append((entry.url, f"not an HTML page or PDF ({shown})"))

    def _store_page(
        self, fetched: Fetched, kind: Kind, stamp: str | None, report: IngestReport
    ) -> None:
        url = fetched.url
        stamp_bytes = fingerprint(fetched.body, self.chunk_chars, self.chunk_overlap)
        if self.store.fingerprint(url) == stamp_bytes:
            self._unchanged(url, report)
            self._remember(fetched, kind, stamp, ())
            return
        try:
            article = page_article(fetched, kind)
        except IngestError as exc:
            _fail(report, url, exc)
            return
        outcome = self.store.put_file(
            url,
            stamp_bytes,
            [(article, chunk(article, self.chunk_chars, self.chunk_overlap))],
            self.chunking,
            facts={article.id: f} if (f := facts_of(article)) is not None else None,
        )
        for article_id, what in outcome.items():
            report.count(what)
            logger.info("%s article %s from %s", what, article_id, url)
        self._remember(fetched, kind, stamp, ())

    def _unchanged(self, url: str, report: IngestReport) -> None:
        for _ in range(max(1, self.store.article_count_for_file(url))):
            report.count("unchanged")

    def _remember(
        self,
        fetched: Fetched,
        kind: str,
        stamp: str | None,
        entries: list[Entry] | tuple[()],
        previous: WebItem | None = None,
    ) -> None:
        """Keep the validators of a good fetch (a 304 keeps the previous ones it lacks)."""
        self.sources.put_item(
            WebItem(
                url=fetched.url,
                kind=kind,
                etag=fetched.etag or (previous.etag if previous else None),
                last_modified=fetched.last_modified
                or (previous.last_modified if previous else None),
                stamp=stamp,
                chunking=self.chunking,
                final_url=fetched.final_url,
                entries=tuple((e.url, e.stamp) for e in entries),
            ),
            time.time(),
        )


def _fail(report: IngestReport, url: str, exc: IngestError) -> None:
    reason = str(exc).removeprefix(f"{url}: ")
    report.failed.append((url, reason))
    logger.warning("skipped %s", exc)
