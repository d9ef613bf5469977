"""URLs into the real store over loopback HTTP: feeds, sitemaps, pages; what a re-run fetches;
registered sources refreshed once across connections and threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from index.docstore import DocStore
from ingest.web.fetch import Fetcher
from server.pipeline import IngestReport
from server.sources import SourceScheduler, parse_every, refresh_many, refresh_source
from server.web_ingest import WebIngest
from tests.loopback_site import Site, article_html, rss, sitemap

DAY1 = "Thu, 07 Mar 2024 10:00:00 GMT"
DAY2 = "Fri, 08 Mar 2024 10:00:00 GMT"


def make_web(db: Path, timeout: float = 2.0) -> WebIngest:
    fetcher = Fetcher(httpx.Client(), timeout=timeout, min_interval=0.0, max_bytes=256 * 1024)
    return WebIngest(DocStore(db), fetcher, chunk_chars=1200, chunk_overlap=200)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebIngest]:
    made = make_web(tmp_path / "store.sqlite3")
    yield made
    made.fetcher.client.close()
    made.store.close()


def run(web: WebIngest, url: str) -> IngestReport:
    report = IngestReport()
    web.ingest(url, report)
    return report


def news_feed(site: Site, n: int, dates: dict[int, str] | None = None) -> str:
    items = []
    for i in range(n):
        if f"/news/{i}" not in site.pages:
            site.put(f"/news/{i}", article_html(f"Notizia {i}", i))
        items.append((site.url(f"/news/{i}"), f"Notizia {i}", (dates or {}).get(i, DAY1)))
    return site.put("/feed.xml", rss(items), content_type="application/rss+xml")


def test_feed_first_run_stores_every_item_and_second_fetches_no_body(site: Site, web: WebIngest):
    feed = news_feed(site, 5)
    first = run(web, feed)
    assert (first.added, first.failed) == (5, [])
    bodies = site.total_bodies
    second = run(web, feed)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 5)
    assert site.total_bodies == bodies  # the feed answered 304, its items were not asked
    urls = {a.url for a in web.store.articles()}
    assert urls == {site.url(f"/news/{i}") for i in range(5)}
    assert {a.source for a in web.store.articles()} == urls


def test_a_changed_item_is_exactly_one_update(site: Site, web: WebIngest):
    feed = news_feed(site, 4)
    run(web, feed)
    site.put("/news/2", article_html("Notizia 2", 2, extra="Aggiornamento: nuove date."))
    news_feed(site, 4, dates={2: DAY2})
    report = run(web, feed)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    assert site.bodies["/news/2"] == 2
    assert site.bodies["/news/1"] == 1
    assert "nuove date" in web.store.get(_id_of(web, site.url("/news/2"))).text


def test_undated_items_are_asked_with_a_conditional_get(site: Site, web: WebIngest):
    for i in range(3):
        site.put(f"/p/{i}", article_html(f"Pagina {i}", i))
    feed = site.put("/undated.xml", rss([(site.url(f"/p/{i}"), f"P{i}", "") for i in range(3)]))
    assert run(web, feed).added == 3
    site.put("/p/1", article_html("Pagina 1", 1, extra="Testo cambiato."))
    report = run(web, feed)
    assert (report.updated, report.unchanged) == (1, 2)
    assert site.requests["/p/0"] == 2
    assert site.bodies["/p/0"] == 1


def test_items_that_leave_the_feed_are_kept(site: Site, web: WebIngest):
    feed = news_feed(site, 3)
    run(web, feed)
    site.put("/feed.xml", rss([(site.url("/news/0"), "Notizia 0", DAY1)]))
    report = run(web, feed)
    assert report.removed == 0
    assert len(web.store.articles()) == 3


def test_every_failure_is_one_line_and_the_rest_is_stored(site: Site, web: WebIngest):
    site.put("/ok", article_html("Buona"))
    site.put("/img.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    site.put("/menu", "<html><body><nav>Home</nav></body></html>")
    site.put("/slow", article_html("Lenta"), delay=3)
    site.put("/big", article_html("Grande", extra="parola " * 60_000))
    site.put("/private/x", article_html("Privata"))
    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    paths = ("/ok", "/gone", "/img.png", "/menu", "/slow", "/big", "/private/x")
    feed = site.put("/mixed.xml", rss([(site.url(p), p, DAY1) for p in paths]))
    report = run(web, feed)
    assert report.added == 1
    reasons = dict(report.failed)
    assert reasons == {
        site.url("/gone"): "HTTP 404 not found",
        site.url("/img.png"): "not an HTML page or PDF (image/png)",
        site.url("/menu"): "no main article text found in the HTML",
        site.url("/slow"): "timed out after 2 s",
        site.url("/big"): "too large (over 262144 bytes)",
        site.url("/private/x"): "disallowed by the site's robots.txt",
    }
    assert site.requests["/private/x"] == 0
    # Failed items are asked again next time; the stored one is not.
    again = run(web, feed)
    assert again.unchanged == 1
    assert len(again.failed) == 6


def test_pdf_and_latin1_items(site: Site, web: WebIngest):
    pdf = (Path(__file__).resolve().parents[1] / "data" / "bollettino.pdf").read_bytes()
    site.put("/bollettino.pdf", pdf, content_type="application/pdf")
    latin = article_html("Città e perché", 5, extra="La città è più bella già così.")
    site.put("/latin", latin.replace('charset="utf-8"', "").encode("latin-1"),
             content_type="text/html; charset=iso-8859-1")  # fmt: skip
    site.put("/undeclared", latin.replace('<meta charset="utf-8">', "").encode("cp1252"),
             content_type="text/html")  # fmt: skip
    paths = ("/bollettino.pdf", "/latin", "/undeclared")
    feed = site.put("/docs.xml", rss([(site.url(p), p, DAY1) for p in paths]))
    report = run(web, feed)
    assert (report.added, report.failed) == (3, [])
    pdf_article = web.store.get(_id_of(web, site.url("/bollettino.pdf")))
    assert pdf_article.pages
    assert pdf_article.source == site.url("/bollettino.pdf")
    for path in ("/latin", "/undeclared"):
        article = web.store.get(_id_of(web, site.url(path)))
        assert article.title == "Città e perché"
        assert "La città è più bella già così." in article.text


def test_broken_feed_and_not_a_feed(site: Site, web: WebIngest):
    site.put("/news/0", article_html("Notizia 0"))
    good = rss([(site.url("/news/0"), "N0", DAY1)])
    broken = site.put("/broken.xml", good.replace("</channel></rss>", "<item><title>x</titl"))
    report = run(web, broken)
    assert report.added == 1
    assert report.failed[0][0] == broken
    assert report.failed[0][1].startswith("invalid XML")
    text = site.put("/notes.txt", "just words", content_type="text/plain")
    report = run(web, text)
    assert report.failed == [(text, "not an HTML page, PDF, feed or sitemap (text/plain)")]


def test_single_page_and_redirect_keep_the_final_url(site: Site, web: WebIngest):
    site.put("/articolo", article_html("Articolo"))
    moved = site.put("/vecchio", "", status=302, location="/articolo")
    assert run(web, moved).added == 1
    assert [a.url for a in web.store.articles()] == [site.url("/articolo")]
    assert run(web, moved).unchanged == 1


def test_sitemap_index_reaches_every_page(site: Site, web: WebIngest):
    for i in range(3):
        site.put(f"/s/{i}", article_html(f"Pagina {i}", i))
    site.put("/sm1.xml", sitemap([(site.url("/s/0"), "2024-03-07"), (site.url("/s/1"), None)]))
    site.put("/sm2.xml", sitemap([(site.url("/s/2"), "2024-03-07")]))
    index = site.put(
        "/sitemap.xml", sitemap([(site.url("/sm1.xml"), None), (site.url("/sm2.xml"), None)], True)
    )
    assert run(web, index).added == 3
    report = run(web, index)
    assert report.unchanged == 3
    assert site.bodies["/s/0"] == 1


def test_a_deleted_article_comes_back_on_the_next_run(site: Site, web: WebIngest):
    feed = news_feed(site, 2)
    run(web, feed)
    web.store.delete(_id_of(web, site.url("/news/0")))
    assert run(web, feed).added == 1


def _id_of(web: WebIngest, url: str) -> str:
    return next(a.id for a in web.store.articles() if a.url == url)


def test_two_connections_refresh_a_source_once(site: Site, tmp_path: Path):
    feed = news_feed(site, 3)
    site.pages["/feed.xml"].delay = 0.5  # both threads ask while the first still reads
    db = tmp_path / "shared.sqlite3"
    webs = [make_web(db), make_web(db)]
    webs[0].sources.add(feed, 3600, time.time())
    results: list[IngestReport | None] = []
    barrier = threading.Barrier(2)

    def worker(web: WebIngest) -> None:
        barrier.wait()
        results.append(refresh_source(web, feed, due_only=True))

    threads = [threading.Thread(target=worker, args=(w,)) for w in webs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert site.requests["/feed.xml"] == 1
    assert sorted(r is None for r in results) == [False, True]
    source = webs[1].sources.get(feed)
    assert source is not None
    assert source.last_status == "ok"
    assert source.counts["added"] == 3
    assert source.next_due > time.time() + 3000
    assert source.lease_until == 0
    # Once refreshed it is not due: a scheduler in another process leaves it alone.
    assert refresh_source(webs[1], feed, due_only=True) is None
    for web in webs:
        web.store.close()


def test_scheduler_refreshes_due_sources_and_calls_back(site: Site, web: WebIngest):
    feed = news_feed(site, 2)
    web.sources.add(feed, 3600, time.time())
    changed = threading.Event()
    scheduler = SourceScheduler(web, poll=0.05, changed=changed.set)
    scheduler.start()
    try:
        assert changed.wait(10)
    finally:
        scheduler.stop()
    assert len(web.store.articles()) == 2
    assert site.requests["/feed.xml"] == 1
    assert scheduler.run_once().sources == {}  # nothing due any more


def test_manual_refresh_of_many_sources(site: Site, web: WebIngest):
    feed = news_feed(site, 2)
    gone = site.url("/nope.xml")
    for url in (feed, gone):
        web.sources.add(url, 3600, time.time())
    result = refresh_many(web, [feed, gone], due_only=False)
    assert result.sources == {feed: "ok", gone: "failed"}
    assert result.report.added == 2
    assert result.report.failed == [(gone, "HTTP 404 not found")]
    stored = web.sources.get(gone)
    assert stored is not None
    assert stored.last_status == "failed"
    assert stored.last_error == f"{gone}: HTTP 404 not found"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600),
                                                ("2d", 172800), ("600", 600)])  # fmt: skip
def test_parse_every(text: str, seconds: int):
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "10s", "h1", "-5m"])
def test_parse_every_refuses(text: str):
    with pytest.raises(ValueError, match="--every"):
        parse_every(text)
