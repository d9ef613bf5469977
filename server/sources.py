"""Registered sources: refresh one or all (new or changed items only), once across processes."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from index.docstore import DocStore
from index.sources_store import Source
from ingest.web.fetch import Fetcher
from server.pipeline import IngestReport
from server.settings import Settings
from server.web_ingest import Progress, WebIngest

logger = logging.getLogger(__name__)

# A refresh still running after this long is taken as dead: another process may take over.
LEASE_S = 30 * 60
DEFAULT_EVERY = "1h"
MIN_EVERY_S = 60
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.I)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> int:
    """Seconds in an interval like `90s`, `30m`, `1h`, `2d` (a bare number is seconds).

    Raises:
        ValueError: another form, or under a minute.
    """
    match = _EVERY.match(text)
    if not match:
        raise ValueError(f"--every {text!r}: write a number and a unit, like 30m, 1h or 1d")
    seconds = int(match[1]) * _UNIT_S[match[2].lower()]
    if seconds < MIN_EVERY_S:
        raise ValueError(f"--every {text!r}: at least {MIN_EVERY_S} seconds")
    return seconds


def format_every(seconds: int) -> str:
    """`3600` -> `1h`: the largest unit that divides the interval."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def fetcher_for(settings: Settings, client: httpx.Client | None = None) -> Fetcher:
    """A fetcher with the configured timeout, size cap and per-site interval."""
    return Fetcher(
        client or httpx.Client(),
        timeout=settings.fetch_timeout,
        max_bytes=settings.fetch_max_bytes,
        min_interval=settings.fetch_interval,
    )


def web_ingest_for(settings: Settings, store: DocStore, fetcher: Fetcher) -> WebIngest:
    """URL ingestion into `store` with the configured chunk settings."""
    return WebIngest(store, fetcher, settings.chunk_chars, settings.chunk_overlap)


def _when(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def source_json(source: Source) -> dict[str, Any]:
    """A source as `sources list --json` and the admin API show it."""
    return {
        "url": source.url,
        "every": format_every(source.every_s),
        "kind": source.kind,
        "last_fetch": _when(source.last_fetch),
        "status": source.last_status,
        "error": source.last_error,
        "counts": source.counts,
        "next_due": _when(source.next_due),
    }


def owner_id() -> str:
    """Names this process (and thread) in a lease, so that only it can release it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Refreshed:
    """What refreshing some sources did: the summed report and one line per source."""

    report: IngestReport = field(default_factory=IngestReport)
    sources: dict[str, str] = field(default_factory=dict)  # url -> status, or "busy"


def refresh_source(
    web: WebIngest, url: str, *, due_only: bool, progress: Progress | None = None
) -> IngestReport | None:
    """Refresh one registered source, if no other process is refreshing it.

    Returns:
        Its report, or None when the lease was not taken (another process holds it or,
        with `due_only`, it is not due).
    """
    owner = owner_id()
    if not web.sources.claim(url, owner, time.time(), LEASE_S, due_only):
        return None
    report = IngestReport()
    try:
        kind = web.ingest(url, report, progress)
    except BaseException:
        web.sources.release(url, owner)
        raise
    status = "failed" if kind is None else "partial" if report.failed else "ok"
    web.sources.finish(
        url,
        owner,
        time.time(),
        kind=kind,
        status=status,
        error="; ".join(f"{u}: {r}" for u, r in report.failed[:3]) or None,
        counts={
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "failed": len(report.failed),
        },
    )
    logger.info("refreshed %s: %s", url, status)
    return report


def refresh_many(
    web: WebIngest, urls: list[str], *, due_only: bool, progress: Progress | None = None
) -> Refreshed:
    """Refresh the given registered sources one after the other, summing their reports.

    `progress(done, total)` counts the sources.
    """
    result = Refreshed()
    if progress:
        progress(0, len(urls))
    for done, url in enumerate(urls, start=1):
        report = refresh_source(web, url, due_only=due_only)
        if report is None:
            result.sources[url] = "busy" if not due_only else "not due"
        else:
            result.sources[url] = "failed" if report.failed else "ok"
            _add(result.report, report)
        if progress:
            progress(done, len(urls))
    return result


def _add(total: IngestReport, part: IngestReport) -> None:
    total.added += part.added
    total.updated += part.updated
    total.unchanged += part.unchanged
    total.failed.extend(part.failed)


class SourceScheduler:
    """A thread that refreshes due sources every `poll` seconds, then calls `changed()`.

    Every worker and server sharing a data folder runs one: the lease in SQLite lets one
    of them refresh a due source, and the new due time keeps the others from doing it again.
    """

    def __init__(self, web: WebIngest, poll: float, changed: Callable[[], None]) -> None:
        if poll <= 0:
            raise ValueError("poll must be > 0")
        self._web = web
        self._poll = poll
        self._changed = changed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sources")

    def start(self) -> None:
        """Start checking for due sources."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the refresh under way, if any, and close the HTTP client."""
        self._stop.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._web.fetcher.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.run_once()
            except Exception:  # the loop must outlive one bad refresh
                logger.exception("refreshing sources failed")

    def run_once(self) -> Refreshed:
        """Refresh every due source this process can take; call `changed()` if any changed."""
        due = self._web.sources.due(time.time())
        result = refresh_many(self._web, due, due_only=True) if due else Refreshed()
        if result.report.changed:
            self._changed()
        return result
