"""Admin API for sources over a real app and a loopback site: add, list, remove, refresh now
(a job), and the background refresher of two apps sharing one data folder."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.http.app import create_app
from tests.loopback_site import Site, article_html, rss
from tests.server.conftest import ServeProcess, admin_headers, settings_for, wait_job

pytestmark = pytest.mark.slow
DAY1 = "Thu, 07 Mar 2024 10:00:00 GMT"


def news(site: Site, n: int) -> str:
    for i in range(n):
        site.put(f"/n/{i}", article_html(f"Notizia {i}", i))
    items = [(site.url(f"/n/{i}"), f"Notizia {i}", DAY1) for i in range(n)]
    return site.put("/feed.xml", rss(items), content_type="application/rss+xml")


@pytest.fixture
def client(data_copy: Path):
    app = create_app(settings_for(data_copy, fetch_interval=0, sources_poll=0))
    with TestClient(app) as running:
        yield running


def test_sources_need_the_admin_token(data_copy: Path):
    client = TestClient(create_app(settings_for(data_copy)))
    assert client.get("/api/sources").status_code == 401
    wrong = client.get("/api/sources", headers=admin_headers("nope"))
    assert wrong.status_code == 403
    off = TestClient(create_app(settings_for(data_copy, admin_token=None)))
    assert off.post("/api/sources", json={"url": "http://x.org/"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "ftp://x.org/feed"}, "ftp://x.org/feed: not an http(s) URL"),
        ({"url": "http://x.org/f", "every": "5s"}, "--every '5s': at least 60 seconds"),
        ({"url": "http://x.org/f", "every": "often"}, "--every 'often': write a number"),
    ],
)
def test_bad_sources_are_422_with_a_detail(client: TestClient, body: dict, detail: str):
    response = client.post("/api/sources", json=body, headers=admin_headers())
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_add_list_refresh_remove(client: TestClient, site: Site):
    feed = news(site, 3)
    added = client.post("/api/sources", json={"url": feed, "every": "2h"}, headers=admin_headers())
    assert added.status_code == 201
    assert added.json()["added"] is True
    again = client.post("/api/sources", json={"url": feed, "every": "1d"}, headers=admin_headers())
    assert again.json()["added"] is False
    assert again.json()["source"]["every"] == "1d"
    documents = client.get("/healthz").json()["documents"]

    started = client.post("/api/sources/refresh", json={}, headers=admin_headers())
    assert started.status_code == 200
    job = wait_job(client, started.json()["job_id"])
    assert job["state"] == "done", job
    assert job["kind"] == "sources"
    assert job["counts"]["added"] == 3
    assert job["counts"]["failures"] == []
    assert job["counts"]["generation"] is not None  # the index was updated in the job
    assert client.get("/healthz").json()["documents"] == documents + 3
    hits = client.post("/api/search", json={"query": "Notizia numero 2 manifattura"}).json()
    assert site.url("/n/2") in {h["url"] for h in hits["hits"]}

    (listed,) = client.get("/api/sources", headers=admin_headers()).json()["sources"]
    assert listed["url"] == feed
    assert listed["status"] == "ok"
    assert listed["kind"] == "feed"
    assert listed["counts"] == {"added": 3, "updated": 0, "unchanged": 0, "failed": 0}
    assert listed["last_fetch"] is not None

    unknown = client.post(
        "/api/sources/refresh", json={"url": site.url("/x")}, headers=admin_headers()
    )
    assert unknown.status_code == 404
    removed = client.delete("/api/sources", params={"url": feed}, headers=admin_headers())
    assert removed.status_code == 200
    assert client.get("/api/sources", headers=admin_headers()).json() == {"sources": []}
    assert client.get("/healthz").json()["documents"] == documents + 3  # articles stay
    gone = client.delete("/api/sources", params={"url": feed}, headers=admin_headers())
    assert gone.status_code == 404
    assert "not a registered source" in gone.json()["detail"]


def test_refresh_job_lists_each_failure(client: TestClient, site: Site):
    site.put("/ok", article_html("Buona"))
    feed = site.put("/mixed.xml", rss([(site.url(p), p, DAY1) for p in ("/ok", "/gone")]))
    client.post("/api/sources", json={"url": feed}, headers=admin_headers())
    job = wait_job(
        client, client.post("/api/sources/refresh", headers=admin_headers()).json()["job_id"]
    )
    assert job["counts"]["added"] == 1
    assert job["counts"]["failures"] == [f"{site.url('/gone')}: HTTP 404 not found"]
    (listed,) = client.get("/api/sources", headers=admin_headers()).json()["sources"]
    assert listed["status"] == "partial"
    assert listed["error"] == f"{site.url('/gone')}: HTTP 404 not found"


def test_two_apps_on_one_data_folder_refresh_a_due_source_once(data_copy: Path, site: Site):
    feed = news(site, 2)
    site.pages["/feed.xml"].delay = 0.3
    settings = settings_for(data_copy, fetch_interval=0, sources_poll=0.1)
    first, second = create_app(settings), create_app(settings)
    with TestClient(first) as a, TestClient(second) as b:
        a.post("/api/sources", json={"url": feed}, headers=admin_headers())
        deadline = time.monotonic() + 60
        while True:
            (listed,) = b.get("/api/sources", headers=admin_headers()).json()["sources"]
            if listed["last_fetch"] is not None:
                break
            assert time.monotonic() < deadline, "the source was never refreshed"
            time.sleep(0.1)
        time.sleep(1.0)  # both refreshers have polled several times since
        assert site.requests["/feed.xml"] == 1
        assert listed["counts"]["added"] == 2
        # The refreshing app updates the index in a job; the other one serves it then.
        while b.get("/healthz").json()["documents"] != 6:
            assert time.monotonic() < deadline + 180, "the new articles were never indexed"
            time.sleep(0.2)


def test_three_server_processes_refresh_each_due_source_once(data_copy: Path, site: Site):
    """Two `clusterchat serve` (one with two workers) on one data folder: every source
    is fetched once, and the new articles become searchable on both."""
    feeds = []
    for f in range(3):
        site.put(f"/f{f}/n", article_html(f"Bando del distretto {f}", 40 + f))
        feeds.append(site.put(f"/f{f}.xml", rss([(site.url(f"/f{f}/n"), "n", DAY1)]), delay=0.3))
    env = {"CLUSTERCHAT_SOURCES_POLL": "0.2", "CLUSTERCHAT_FETCH_INTERVAL": "0"}
    one = ServeProcess(data_copy, env=env)
    two = ServeProcess(data_copy, env=env, workers=2)
    try:
        # Generous: on a busy two-core machine a two-worker server took two minutes to start.
        one.start(timeout=300)
        two.start(timeout=300)
        _refreshed_once(one.url, two.url, feeds, site)
    finally:
        one.stop()
        two.stop()


def _refreshed_once(url_one: str, url_two: str, feeds: list[str], site: Site) -> None:
    with (
        httpx.Client(base_url=url_one, headers=admin_headers(), timeout=30) as a,
        httpx.Client(base_url=url_two, headers=admin_headers(), timeout=30) as b,
    ):
        for feed in feeds:
            assert a.post("/api/sources", json={"url": feed}).status_code == 201
        deadline = time.monotonic() + 120
        while not all(s["last_fetch"] for s in b.get("/api/sources").json()["sources"]):
            assert time.monotonic() < deadline, b.get("/api/sources").json()
            time.sleep(0.2)
        time.sleep(1.5)  # every worker has polled several times since
        assert [site.requests[f"/f{f}.xml"] for f in range(3)] == [1, 1, 1]
        assert [site.bodies[f"/f{f}/n"] for f in range(3)] == [1, 1, 1]
        for client in (a, b):  # the refreshing worker indexed them; both servers see it
            while True:
                hits = client.post("/api/search", json={"query": "Bando del distretto 2"}).json()
                if site.url("/f2/n") in {h["url"] for h in hits.get("hits", [])}:
                    break
                assert time.monotonic() < deadline + 180, hits
                time.sleep(0.5)
