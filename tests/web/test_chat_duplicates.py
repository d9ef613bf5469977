"""The chat names the other publications of a cited news ("Pubblicato anche da")."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import DESKTOP, PageErrors, Server, _cli, _open_page, _server_env, _serving
from tests.web.test_browser import ask

DEV = Path(__file__).resolve().parents[2] / "demo" / "duplicates" / "dev" / "articles"
ORIGINAL = "voucher-innovazione-pmi-2025-aperto-bando.txt"
REPUBLISHED = "mech-voucher-innovazione-pmi-2025-imprese-meccaniche.txt"
LAST_YEAR = "voucher-innovazione-pmi-2024-bando-regionale.txt"
MECH_URL = "https://mech.clust-er.it/news/voucher-innovazione-pmi-2025"


@pytest.fixture(scope="module")
def dup_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over one call, its republication and the previous year's call."""
    root = tmp_path_factory.mktemp("chat-duplicates")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in (ORIGINAL, REPUBLISHED, LAST_YEAR):
        shutil.copy2(DEV / name, corpus / name)
    data_dir = root / "data"
    cli, env = _cli(), _server_env()
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
    with _serving(cli, data_dir, root, env, "serve-duplicates.log") as base_url:
        yield Server(base_url, data_dir, root / "unused.txt")


@pytest.fixture
def dup_page(browser: Browser, dup_server: Server, page_errors: PageErrors) -> Iterator[Page]:
    with _open_page(browser, dup_server, page_errors, **DESKTOP) as page:
        yield page


def test_a_cited_news_lists_its_republication_under_the_sources(
    dup_page: Page, artifacts: Path
) -> None:
    page = dup_page
    page.goto("/")
    answer = ask(page, "Qual è la dotazione complessiva del bando Voucher innovazione PMI 2025?")
    assert not answer["abstained"], answer
    # The republication has the same headline: the URLs tell them apart.
    cited = {c["url"]: c for c in answer["citations"]}
    assert MECH_URL not in cited
    (other,) = cited["https://www.art-er.it/news/voucher-innovazione-pmi-2025"]["also_published_by"]
    assert other["url"] == MECH_URL
    line = page.locator(".answer").last.locator("[data-testid=also-published]")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("Pubblicato anche da:")
    expect(line).to_contain_text("(mech.clust-er.it)")
    expect(line.locator("a")).to_have_text(other["title"])
    expect(line.locator("a")).to_have_attribute("href", other["url"])
    page.screenshot(path=artifacts / "chat-also-published.png")
