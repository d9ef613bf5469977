"""`python -m scripts.bench.feeds`: a loopback feed of 50 items, ingested, refreshed, changed.

Measures what issue 14 targets, with the default settings (`CLUSTERCHAT_FETCH_*`):
the first refresh stores every item; a second one fetches no body (the feed answers 304,
its items' dates are unchanged) within 2 s; one changed item is exactly one update. The
same again for a feed whose items carry no date, where each item is asked with a
conditional GET (all 304). Also: feedparser against trafilatura's feed link extraction on
the same feed (the choice docs/sources.md explains). Writes docs/benchmarks-feeds.{md,json}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from index.docstore import DocStore
from index.sources_store import SourcesStore
from scripts.bench.common import REPO, machine
from server.settings import Settings
from server.sources import fetcher_for, refresh_many, web_ingest_for

PARAGRAPH = (
    "Il cluster ha presentato il programma di formazione per le imprese del territorio, con "
    "corsi sulla manifattura digitale, sulla sostenibilità e sull'intelligenza artificiale."
)


class FeedSite:
    """A loopback site: /feed.xml (RSS 2.0) and /news/N pages, with ETags; counts bodies."""

    def __init__(self, items: int, dated: bool) -> None:
        self.items, self.dated = items, dated
        self.pages: dict[str, bytes] = {}
        self.bodies: Counter[str] = Counter()
        self.requests = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        for n in range(items):
            self.set_page(n, "")
        self.write_feed({})

    def set_page(self, n: int, extra: str) -> None:
        self.pages[f"/news/{n}"] = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Notizia {n}</title>"
            f"</head><body><article><h1>Notizia {n}</h1><p>Notizia numero {n}. {PARAGRAPH}</p>"
            f"<p>{PARAGRAPH} {escape(extra)}</p></article></body></html>"
        ).encode()

    def write_feed(self, dates: dict[int, str]) -> None:
        items = "".join(
            f"<item><title>Notizia {n}</title><link>{self.base}/news/{n}</link>"
            + (
                f"<pubDate>{dates.get(n, 'Thu, 07 Mar 2024 10:00:00 GMT')}</pubDate>"
                if self.dated
                else ""
            )
            + "</item>"
            for n in range(self.items)
        )
        self.pages["/feed.xml"] = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench</title><link>{self.base}/</link><description>x</description>"
            f"{items}</channel></rss>"
        ).encode()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        body = self.pages.get(handler.path)
        if body is None:
            handler.send_error(404)
            return
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        handler.send_response(200)
        kind = "application/rss+xml" if handler.path.endswith(".xml") else "text/html"
        handler.send_header("Content-Type", f"{kind}; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.end_headers()
        handler.wfile.write(body)
        self.bodies[handler.path] += 1

    @contextmanager
    def running(self) -> Iterator[FeedSite]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def _refresh(settings: Settings, url: str, site: FeedSite) -> dict[str, Any]:
    """One `clusterchat refresh --no-index` of the source, in process, as the CLI runs it."""
    bodies, requests = sum(site.bodies.values()), site.requests
    store = DocStore(settings.db_path)
    started = time.perf_counter()
    with fetcher_for(settings) as fetcher:
        result = refresh_many(web_ingest_for(settings, store, fetcher), [url], due_only=False)
    seconds = time.perf_counter() - started
    store.close()
    report = result.report
    return {
        "seconds": round(seconds, 3),
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": len(report.failed),
        "requests": site.requests - requests,
        "bodies": sum(site.bodies.values()) - bodies,
    }


def scenario(items: int, dated: bool, settings: Settings) -> dict[str, Any]:
    """First refresh, a second with nothing changed, a third after one item changed."""
    site = FeedSite(items, dated)
    with site.running():
        feed = f"{site.base}/feed.xml"
        store = DocStore(settings.db_path)
        SourcesStore(store).add(feed, 3600, time.time())
        store.close()
        first = _refresh(settings, feed, site)
        second = _refresh(settings, feed, site)
        site.set_page(items // 2, "Aggiornamento: il programma cambia data.")
        site.write_feed({items // 2: "Fri, 08 Mar 2024 10:00:00 GMT"})
        changed = _refresh(settings, feed, site)
    return {"items": items, "dated": dated, "first": first, "second": second, "changed": changed}


def compare_parsers(items: int, repeats: int = 20) -> dict[str, Any]:
    """feedparser and trafilatura's `extract_links` on the same feed: links found, time."""
    import feedparser
    from trafilatura.feeds import FeedParameters, extract_links

    site = FeedSite(items, dated=True)
    site.server.server_close()
    # A named host: extract_links drops every link on an IP-address host (such as loopback).
    site.base = "https://www.example.org"
    site.write_feed({})
    body = site.pages["/feed.xml"]
    feed_url = f"{site.base}/feed.xml"
    started = time.perf_counter()
    for _ in range(repeats):
        parsed = feedparser.parse(body)
    fp_ms = (time.perf_counter() - started) * 1000 / repeats
    params = FeedParameters(feed_url, "example.org", feed_url, external=True, target_lang=None)
    started = time.perf_counter()
    for _ in range(repeats):
        links = extract_links(body.decode(), params)
    tf_ms = (time.perf_counter() - started) * 1000 / repeats
    return {
        "items": items,
        "feedparser": {"links": len(parsed.entries), "ms": round(fp_ms, 2), "dates": True},
        "trafilatura": {"links": len(links), "ms": round(tf_ms, 2), "dates": False},
    }


def bench_feeds(items: int, folder: Path) -> dict[str, Any]:
    """Every figure, with the default settings in fresh data folders under `folder`."""
    figures: dict[str, Any] = {}
    for dated in (True, False):
        data = folder / ("dated" if dated else "undated")
        settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
        figures["dated" if dated else "undated"] = scenario(items, dated, settings)
    figures["parsers"] = compare_parsers(items)
    figures["settings"] = {
        "fetch_interval": Settings(_env_file=None).fetch_interval,  # type: ignore[call-arg]
    }
    return figures


def render(result: dict[str, Any]) -> str:
    """The Markdown report."""
    f = result["figures"]
    lines = [
        "# Feed refresh benchmark",
        "",
        f"Generated {result['generated']} by `{result['command']}` on "
        f"{result['machine'].get('cpu', 'this machine')}; per-site interval "
        f"{f['settings']['fetch_interval']} s (the default `CLUSTERCHAT_FETCH_INTERVAL`).",
        "",
        "| feed | run | stored (added/updated/unchanged/failed) | requests | bodies | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("dated", "undated"):
        s = f[name]
        for run in ("first", "second", "changed"):
            r = s[run]
            lines.append(
                f"| {s['items']} items, {name} | {run} | {r['added']}/{r['updated']}/"
                f"{r['unchanged']}/{r['failed']} | {r['requests']} | {r['bodies']} | "
                f"{r['seconds']:.3f} |"
            )
    p = f["parsers"]
    lines += [
        "",
        f"Parsing the {p['items']}-item feed: feedparser {p['feedparser']['links']} items in "
        f"{p['feedparser']['ms']} ms (with dates, titles, summaries); trafilatura's "
        f"`extract_links` {p['trafilatura']['links']} links in {p['trafilatura']['ms']} ms "
        "(links only).",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, then write docs/benchmarks-feeds.md and .json."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.feeds", description=__doc__)
    parser.add_argument("--items", type=int, default=50, help="items in the feed")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="report folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        figures = bench_feeds(args.items, Path(folder))
    result = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m scripts.bench.feeds", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "figures": figures,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks-feeds.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "benchmarks-feeds.md").write_text(render(result), encoding="utf-8")
    sys.stdout.write(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
