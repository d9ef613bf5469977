"""`clusterchat ingest URL`, `sources add|list|remove` and `refresh`, run as a user would,
against a loopback HTTP site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.loopback_site import Site, article_html, rss
from tests.test_cli import one_line, run

pytestmark = pytest.mark.slow
DAY1 = "Thu, 07 Mar 2024 10:00:00 GMT"
DAY2 = "Fri, 08 Mar 2024 10:00:00 GMT"


def feed_of(site: Site, paths: list[str], dates: dict[str, str] | None = None) -> str:
    items = [(site.url(p), p, (dates or {}).get(p, DAY1)) for p in paths]
    return site.put("/feed.xml", rss(items), content_type="application/rss+xml")


def test_ingest_feed_url_then_again_adds_nothing(site: Site, tmp_path: Path):
    for i in range(2):
        site.put(f"/n/{i}", article_html(f"Notizia {i}", i))
    feed = feed_of(site, ["/n/0", "/n/1", "/n/missing"])
    first = run("ingest", feed, "--no-index", data_dir=tmp_path)
    assert first.returncode == 1
    err = one_line(first.stderr)
    assert "added 2, updated 0, unchanged 0, removed 0, failed 1" in err
    assert f"failed {site.url('/n/missing')}: HTTP 404 not found" in err
    again = run("ingest", feed, "--no-index", data_dir=tmp_path)
    assert "added 0, updated 0, unchanged 2, removed 0, failed 1" in one_line(again.stderr)
    listed = json.loads(run("documents", "--json", data_dir=tmp_path).stdout)
    assert sorted(d["url"] for d in listed) == [site.url("/n/0"), site.url("/n/1")]
    assert sorted(d["source"] for d in listed) == [site.url("/n/0"), site.url("/n/1")]


def test_ingest_page_and_file_together_then_search(site: Site, tmp_path: Path):
    page = site.put("/pagina", article_html("Formazione digitale", 7))
    note = tmp_path / "nota.txt"
    note.write_text("Titolo\n\nUna nota sul bando regionale per la ricerca industriale.\n")
    done = run("ingest", page, note, data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert "added 2" in one_line(done.stderr)
    hits = json.loads(
        run("search", "manifattura digitale", "--json", data_dir=tmp_path / "data").stdout
    )
    assert hits["hits"][0]["url"] == page


def test_bad_urls_and_paths_stop_before_anything(site: Site, tmp_path: Path):
    page = site.put("/p", article_html("P"))
    bad = run("ingest", page, "http://", "--no-index", data_dir=tmp_path)
    assert bad.returncode == 2
    assert "error: http://: not an http(s) URL" in one_line(bad.stderr)
    missing = run("ingest", page, tmp_path / "nope", "--no-index", data_dir=tmp_path)
    assert missing.returncode == 2
    assert site.requests["/p"] == 0


def test_unreachable_url_is_a_failed_item(tmp_path: Path):
    done = run("ingest", "http://127.0.0.1:9/feed.xml", "--no-index", data_dir=tmp_path)
    assert done.returncode == 1
    assert "failed http://127.0.0.1:9/feed.xml: unreachable host" in one_line(done.stderr)


def test_sources_add_list_refresh_remove(site: Site, tmp_path: Path):
    for i in range(3):
        site.put(f"/n/{i}", article_html(f"Notizia {i}", i))
    feed = feed_of(site, ["/n/0", "/n/1", "/n/2"])
    added = run("sources", "add", feed, "--every", "2h", data_dir=tmp_path)
    assert added.returncode == 0
    assert one_line(added.stderr) == f"added {feed} (every 2h)"
    first = run("refresh", "--no-index", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "added 3, updated 0, unchanged 0" in one_line(first.stderr)
    site.put("/n/1", article_html("Notizia 1", 1, extra="Programma aggiornato."))
    feed_of(site, ["/n/0", "/n/1", "/n/2"], {"/n/1": DAY2})
    second = run("refresh", feed, "--no-index", data_dir=tmp_path)
    assert "added 0, updated 1, unchanged 2" in one_line(second.stderr)
    (listed,) = json.loads(run("sources", "list", "--json", data_dir=tmp_path).stdout)
    assert listed["url"] == feed
    assert listed["every"] == "2h"
    assert listed["kind"] == "feed"
    assert listed["status"] == "ok"
    assert listed["counts"] == {"added": 0, "updated": 1, "unchanged": 2, "failed": 0}
    assert listed["last_fetch"] is not None
    unknown = run("refresh", site.url("/other.xml"), data_dir=tmp_path)
    assert unknown.returncode == 2
    assert run("sources", "remove", feed, data_dir=tmp_path).returncode == 0
    assert json.loads(run("sources", "list", "--json", data_dir=tmp_path).stdout) == []
    documents = json.loads(run("documents", "--json", data_dir=tmp_path).stdout)
    assert len(documents) == 3  # removing a source keeps its articles
    assert run("sources", "remove", feed, data_dir=tmp_path).returncode == 2


def test_sources_add_refuses_bad_input(tmp_path: Path):
    bad = run("sources", "add", "file:///etc/passwd", data_dir=tmp_path)
    assert bad.returncode == 2
    assert "not an http(s) URL" in one_line(bad.stderr)
    every = run("sources", "add", "http://x.org/feed", "--every", "soon", data_dir=tmp_path)
    assert every.returncode == 2
    assert "--every 'soon': write a number and a unit" in one_line(every.stderr)
