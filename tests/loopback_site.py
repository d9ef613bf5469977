"""A loopback HTTP site for the URL-ingest tests: feeds, sitemaps and pages that tests change.

Each page can have an ETag and a Last-Modified date (answered with 304 when the request
carries them), a delay (a slow server), a redirect and any status. The site counts the
requests and the bodies it sends per path.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

WORDS = (
    "Il distretto della meccanica ha presentato il nuovo programma di formazione per le imprese"
    " del territorio, con corsi dedicati alla manifattura digitale e alla sostenibilità."
)


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: bool = True  # send an ETag (the body's hash) and answer If-None-Match with 304
    last_modified: str | None = None
    delay: float = 0.0
    location: str | None = None  # a redirect target (with status 301/302)


class Site:
    """The pages of a loopback HTTP server, editable while it runs."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: str | bytes, **options: object) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Page(data, **options)  # type: ignore[arg-type]
        return self.url(path)

    @property
    def total_bodies(self) -> int:
        return sum(self.bodies.values())

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            self.requests[path] += 1
        page = self.pages.get(path)
        if page is None:
            handler.send_error(404)
            return
        if page.delay:
            time.sleep(page.delay)
        etag = f'"{hashlib.sha256(page.body).hexdigest()[:16]}"' if page.etag else None
        fresh = (etag and handler.headers.get("If-None-Match") == etag) or (
            page.last_modified and handler.headers.get("If-Modified-Since") == page.last_modified
        )
        try:
            if page.status == 200 and fresh:
                handler.send_response(304)
                if etag:
                    handler.send_header("ETag", etag)
                handler.end_headers()
                return
            handler.send_response(page.status)
            if page.location:
                handler.send_header("Location", page.location)
            handler.send_header("Content-Type", page.content_type)
            handler.send_header("Content-Length", str(len(page.body)))
            if etag:
                handler.send_header("ETag", etag)
            if page.last_modified:
                handler.send_header("Last-Modified", page.last_modified)
            handler.end_headers()
            handler.wfile.write(page.body)
            with self._lock:
                self.bodies[path] += 1
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def article_html(title: str, n: int = 0, *, canonical: str | None = None, extra: str = "") -> str:
    """A news page trafilatura reads: a headline, a date and two paragraphs."""
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return (
        f'<!DOCTYPE html><html lang="it"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title>{link}</head><body><nav>Home | Notizie | Contatti</nav><article>"
        f"<h1>{escape(title)}</h1><p>Pubblicato il 7 marzo 2024.</p>"
        f"<p>Notizia numero {n}. {WORDS} Il progetto {n} coinvolge {n + 3} aziende.</p>"
        f"<p>{WORDS} {escape(extra)}</p></article><footer>Privacy</footer></body></html>"
    )


def rss(items: list[tuple[str, str, str]], title: str = "Notizie del cluster") -> str:
    """An RSS 2.0 feed of (link, title, pubDate) items."""
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<pubDate>{escape(d)}</pubDate><description>{escape(t)}</description></item>"
        for link, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://example.org/</link>"
        f"<description>news</description>{entries}</channel></rss>"
    )


def atom(items: list[tuple[str, str, str]]) -> str:
    """An Atom feed of (link, title, updated) entries."""
    entries = "".join(
        f'<entry><title>{escape(t)}</title><link href="{escape(link)}"/>'
        f"<id>{escape(link)}</id><updated>{escape(d)}</updated></entry>"
        for link, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Atom news</title><id>urn:x</id><updated>2024-03-07T10:00:00Z</updated>"
        f"{entries}</feed>"
    )


def sitemap(urls: list[tuple[str, str | None]], index: bool = False) -> str:
    """A urlset of (loc, lastmod) pages, or a sitemapindex of child sitemaps."""
    tag, child = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    rows = "".join(
        f"<{child}><loc>{escape(loc)}</loc>"
        + (f"<lastmod>{escape(mod)}</lastmod>" if mod else "")
        + f"</{child}>"
        for loc, mod in urls
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<{tag} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</{tag}>'
    )
