"""The admin page's sources card in Chromium: add a feed, refresh now with live progress,
see the counts and the failed item, remove the source; a bad URL gets its reason."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.loopback_site import Site, article_html, rss
from tests.web.conftest import (
    ARTICLES,
    DESKTOP,
    PageErrors,
    Server,
    _cli,
    _open_page,
    _server_env,
    _serving,
)

JOB_TIMEOUT_MS = 120_000
DAY1 = "Thu, 07 Mar 2024 10:00:00 GMT"


@pytest.fixture(scope="module")
def news_site() -> Iterator[Site]:
    with Site() as site:
        yield site


@pytest.fixture(scope="module")
def sources_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (one article) that refreshes sources only when asked."""
    root = tmp_path_factory.mktemp("admin-sources")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "forum-digitale.txt").write_text(ARTICLES["forum-digitale.txt"], encoding="utf-8")
    data_dir = root / "data"
    cli = _cli()
    env = {**_server_env(), "CLUSTERCHAT_SOURCES_POLL": "0", "CLUSTERCHAT_FETCH_INTERVAL": "0"}
    ingest = subprocess.run(
        [cli, "ingest", corpus, "--data-dir", data_dir],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    with _serving(cli, data_dir, root, env, "serve-sources.log") as base_url:
        yield Server(base_url, data_dir, root / "unused.txt")


@pytest.fixture
def sources_page(
    browser: Browser, sources_server: Server, page_errors: PageErrors
) -> Iterator[Page]:
    with _open_page(browser, sources_server, page_errors, **DESKTOP) as page:
        yield page


def test_add_refresh_and_remove_a_feed(
    sources_page: Page,
    sources_server: Server,
    news_site: Site,
    page_errors: PageErrors,
    artifacts: Path,
) -> None:
    page = sources_page
    page_errors.allow(r"status of 422")  # the bad URL below, logged by Chromium
    for i in range(3):
        news_site.put(f"/n/{i}", article_html(f"Notizia del distretto {i}", i))
    paths = ["/n/0", "/n/1", "/n/2", "/n/sparita"]
    feed = news_site.put(
        "/feed.xml", rss([(news_site.url(p), p, DAY1) for p in paths]), content_type="text/xml"
    )
    page.goto("/admin")
    page.locator("#token").fill(sources_server.admin_token)
    page.locator("#token").press("Enter")
    expect(page.locator("#sources-message")).to_have_text("Nessuna fonte registrata.")

    page.locator("#source-url").fill("ftp://example.org/feed")
    page.locator("[data-testid=source-add]").click()
    expect(page.locator("#sources-message")).to_contain_text("not an http(s) URL")

    page.locator("#source-url").fill(feed)
    page.locator("#source-every").select_option("6h")
    page.locator("[data-testid=source-add]").click()
    expect(page.locator("#sources-message")).to_have_text(f"Fonte aggiunta: {feed}")
    row = page.locator("[data-testid=source]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("6h")
    expect(row).to_contain_text("mai")

    with page.expect_response(lambda r: r.url.endswith("/api/sources/refresh")) as started:
        page.locator("#sources-refresh").click()
    job_id = started.value.json()["job_id"]
    job = page.locator(f"#sources-job[data-job-id='{job_id}']")
    expect(job).to_be_visible()
    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#sources-job-status")).to_have_text(
        "Fonti aggiornate: 3 nuovi, 0 aggiornati, 0 invariati, 1 falliti."
    )
    failures = page.locator("[data-testid=sources-failure]")
    expect(failures).to_have_count(1)
    expect(failures).to_have_text(f"{news_site.url('/n/sparita')}: HTTP 404 not found")
    expect(row).to_have_attribute("data-status", "partial")
    expect(row.locator("[data-testid=source-counts]")).to_have_text(
        "+3 nuovi, 0 aggiornati, 0 invariati, 1 falliti"
    )
    page.locator("#sources-card").screenshot(path=str(artifacts / "admin-sources.png"))
    page.locator("#refresh").click()  # the documents card
    expect(page.locator("#documents tr")).to_have_count(4)
    expect(page.locator("#documents")).to_contain_text("Notizia del distretto 2")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=source-remove]").click()
    expect(row).to_have_count(0)
    expect(page.locator("#sources-message")).to_have_text("Fonte rimossa (gli articoli restano).")
    page.locator("#refresh").click()
    expect(page.locator("#documents tr")).to_have_count(4)
