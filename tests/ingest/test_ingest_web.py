"""Fetching over real loopback HTTP: validators, redirects, robots.txt, pacing, caps, charsets,
and reading feeds, sitemaps and pages."""

from __future__ import annotations

import gzip
import socket
import time

import httpx
import pytest

from ingest.errors import FetchError
from ingest.web.charset import decode_html
from ingest.web.feeds import parse_feed
from ingest.web.fetch import Fetcher
from ingest.web.page import kind_of, page_article
from ingest.web.sitemap import parse_sitemap
from tests.loopback_site import Site, article_html, atom, rss, sitemap


@pytest.fixture
def fetcher():
    with httpx.Client() as client:
        yield Fetcher(client, timeout=2.0, max_bytes=64 * 1024, min_interval=0.0)


def reason(excinfo: pytest.ExceptionInfo[FetchError]) -> str:
    return str(excinfo.value)


def test_etag_round_trip_answers_304_without_a_body(site: Site, fetcher: Fetcher):
    url = site.put("/a.html", article_html("Uno"))
    first = fetcher.get(url)
    assert first.status == 200
    assert first.etag
    assert first.body
    second = fetcher.get(url, etag=first.etag)
    assert second.not_modified
    assert second.body == b""
    assert site.bodies["/a.html"] == 1
    assert site.requests["/a.html"] == 2


def test_last_modified_round_trip(site: Site, fetcher: Fetcher):
    stamp = "Thu, 07 Mar 2024 10:00:00 GMT"
    url = site.put("/b.html", article_html("Due"), etag=False, last_modified=stamp)
    first = fetcher.get(url)
    assert first.last_modified == stamp
    assert first.etag is None
    assert fetcher.get(url, last_modified=stamp).not_modified


def test_redirect_is_followed_and_the_final_url_kept(site: Site, fetcher: Fetcher):
    target = site.put("/new.html", article_html("Nuova"))
    url = site.put("/old.html", "", status=301, location="/new.html")
    fetched = fetcher.get(url)
    assert fetched.url == url
    assert fetched.final_url == target
    article = page_article(fetched, kind_of(fetched))
    assert article.url == target
    assert article.source == target


def test_canonical_link_names_the_article(site: Site, fetcher: Fetcher):
    url = site.put("/p?id=3&utm=x", article_html("Tre", canonical="/notizie/tre"))
    article = page_article(fetcher.get(url), "html")
    assert article.url == site.url("/notizie/tre")
    assert article.title == "Tre"
    assert "Notizia numero 0" in article.text


@pytest.mark.parametrize(
    ("status", "expected"), [(404, "HTTP 404 not found"), (500, "HTTP 500 internal server error")]
)
def test_http_errors_are_one_line(site: Site, fetcher: Fetcher, status: int, expected: str):
    url = site.put("/e", "no", status=status)
    with pytest.raises(FetchError) as excinfo:
        fetcher.get(url)
    assert reason(excinfo) == f"{url}: {expected}"


def test_slow_server_times_out(site: Site):
    url = site.put("/slow", article_html("Lenta"), delay=1.5)
    with httpx.Client() as client, pytest.raises(FetchError) as excinfo:
        Fetcher(client, timeout=0.3, min_interval=0).get(url)
    assert reason(excinfo) == f"{url}: timed out after 0.3 s"


def test_unreachable_host():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with httpx.Client() as client, pytest.raises(FetchError) as excinfo:
        Fetcher(client, timeout=1, min_interval=0).get(url)
    assert reason(excinfo).startswith(f"{url}: unreachable host")


def test_body_over_the_cap_stops(site: Site, fetcher: Fetcher):
    url = site.put("/big", b"x" * (200 * 1024), content_type="text/html")
    with pytest.raises(FetchError) as excinfo:
        fetcher.get(url)
    assert reason(excinfo) == f"{url}: too large (over 65536 bytes)"


def test_robots_txt_is_respected(site: Site, fetcher: Fetcher):
    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    allowed = site.put("/public.html", article_html("Pubblica"))
    blocked = site.put("/private/x.html", article_html("Privata"))
    assert fetcher.get(allowed).status == 200
    with pytest.raises(FetchError, match=r"disallowed by the site's robots\.txt"):
        fetcher.get(blocked)
    assert site.requests["/private/x.html"] == 0
    fetcher.get(allowed)
    assert site.requests["/robots.txt"] == 1  # read once per site


def test_requests_to_one_site_are_paced(site: Site):
    url = site.put("/a", article_html("A"))
    with httpx.Client() as client:
        fetcher = Fetcher(client, min_interval=0.25)
        started = time.monotonic()
        for _ in range(3):
            fetcher.get(url)
    assert time.monotonic() - started >= 0.5  # robots.txt, then three pages 0.25 s apart


def test_not_an_http_url_is_refused(fetcher: Fetcher):
    with pytest.raises(FetchError, match="not an http"):
        fetcher.get("ftp://example.org/x")


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        ("<html><head></head><body>perché è così</body></html>", "iso-8859-1", "iso8859-1"),
        (
            '<html><head><meta charset="windows-1252"></head><body>perché è</body></html>',
            None,
            "cp1252",
        ),
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            "</head><body>perché è</body></html>",
            None,
            "utf-8",
        ),
    ],
)
def test_charset_from_header_then_meta(body: str, header: str | None, expected: str):
    encoding = "utf-8" if expected == "utf-8" else "latin-1"
    text, used = decode_html(body.encode(encoding), header)
    assert used == expected
    assert "perché è" in text


def test_charset_guessed_when_nothing_declares_it():
    body = "<html><body><p>" + "Perché la città è già più bella. " * 20 + "</p></body></html>"
    text, _used = decode_html(body.encode("latin-1"), None)
    assert "Perché la città è già più bella." in text


def test_a_wrong_header_charset_falls_back_to_the_meta_one():
    body = '<html><head><meta charset="utf-8"></head><body>città</body></html>'.encode()
    text, used = decode_html(body, "ascii")
    assert used == "utf-8"
    assert "città" in text


def test_rss_and_atom_items(site: Site):
    items = [("/a", "A", "Thu, 07 Mar 2024 10:00:00 GMT"), ("b", "B", "")]
    entries, problem = parse_feed(rss(items).encode(), site.url("/feed.xml"))
    assert problem is None
    assert [e.url for e in entries] == [site.url("/a"), site.url("/b")]
    assert entries[0].stamp is not None
    assert entries[1].stamp is None
    entries, _ = parse_feed(atom([("/c", "C", "2024-03-07T10:00:00Z")]).encode(), site.url("/"))
    assert [e.url for e in entries] == [site.url("/c")]
    assert entries[0].title == "C"


def test_a_changed_item_changes_its_stamp():
    before, _ = parse_feed(rss([("http://x/a", "A", "Thu, 07 Mar 2024 10:00:00 GMT")]).encode(), "")
    after, _ = parse_feed(rss([("http://x/a", "A", "Fri, 08 Mar 2024 10:00:00 GMT")]).encode(), "")
    assert before[0].stamp != after[0].stamp


def test_broken_feed_keeps_the_items_before_the_break():
    body = rss([("http://x/a", "A", "Thu, 07 Mar 2024 10:00:00 GMT")]).encode()
    broken = body.replace(b"</channel></rss>", b"<item><title>B</title><link>http://x/b</li")
    entries, problem = parse_feed(broken, "http://x/feed")
    assert [e.url for e in entries][:1] == ["http://x/a"]
    assert problem is not None
    assert problem.startswith("invalid XML")


def test_invalid_xml_or_not_a_feed_is_an_error():
    with pytest.raises(FetchError, match="http://x/f: invalid XML"):
        parse_feed(b"<?xml version='1.0'?><rss><channel><title>x</ti", "http://x/f")
    with pytest.raises(FetchError, match="not a feed"):
        parse_feed(b"just some words", "http://x/f")


def test_sitemap_urlset_index_and_gzip():
    pages, children = parse_sitemap(
        sitemap([("http://x/a", "2024-03-07"), ("http://x/b", None)]).encode(), "http://x/s.xml"
    )
    assert [p.url for p in pages] == ["http://x/a", "http://x/b"]
    assert children == []
    assert pages[0].stamp is not None
    assert pages[1].stamp is None
    index = sitemap([("http://x/s1.xml", None)], index=True).encode()
    assert parse_sitemap(gzip.compress(index), "http://x/i.xml.gz") == ([], ["http://x/s1.xml"])
    with pytest.raises(FetchError, match="invalid XML"):
        parse_sitemap(b"<urlset><url><loc>x</url>", "http://x/s.xml")


def test_kind_is_read_from_the_content(site: Site, fetcher: Fetcher):
    cases = {
        "/f": (rss([]), "text/plain", "feed"),
        "/s": (sitemap([]), "application/octet-stream", "sitemap"),
        "/h": (article_html("H"), "application/octet-stream", "html"),
        "/d": (b"%PDF-1.4 ...", "application/octet-stream", "pdf"),
    }
    for path, (body, ctype, kind) in cases.items():
        assert kind_of(fetcher.get(site.put(path, body, content_type=ctype))) == kind
    image = site.put("/i.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    with pytest.raises(FetchError, match=r"not an HTML page, PDF, feed or sitemap \(image/png\)"):
        kind_of(fetcher.get(image))
    other = site.put("/o.xml", "<?xml version='1.0'?><note>x</note>", content_type="text/xml")
    with pytest.raises(FetchError, match="not a feed or sitemap"):
        kind_of(fetcher.get(other))
