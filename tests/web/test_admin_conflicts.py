"""The admin page asks what to do when an upload's name clashes with a stored upload."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import (
    ARTICLES,
    DESKTOP,
    PageErrors,
    Server,
    _article,
    _cli,
    _open_page,
    _server_env,
    _serving,
)

NAME = "comunicato.txt"
AGRIFOOD = _article(
    "Bando filiere corte del Clust-ER Agrifood",
    "2025-03-03",
    None,
    "Il Clust-ER Agrifood ha presentato a Parma il bando per le filiere corte.",
)
ROBOT = _article(
    "Scuola estiva sui robot del cluster Meccatronica",
    "2025-03-04",
    None,
    "Il cluster Meccatronica ha aperto a Modena la scuola estiva sui robot collaborativi.",
)
PORTO = _article(
    "Accordo tra il consorzio e il porto di Ravenna",
    "2025-03-05",
    None,
    "Il consorzio ha firmato un accordo con il porto di Ravenna.",
)


@pytest.fixture(scope="module")
def clash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (one article), so the shared server's document counts hold."""
    root = tmp_path_factory.mktemp("admin-conflicts")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "forum-digitale.txt").write_text(ARTICLES["forum-digitale.txt"], encoding="utf-8")
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
    with _serving(cli, data_dir, root, env, "serve-conflicts.log") as base_url:
        yield Server(base_url, data_dir, root / NAME)


@pytest.fixture
def clash_page(browser: Browser, clash_server: Server, page_errors: PageErrors) -> Iterator[Page]:
    with _open_page(browser, clash_server, page_errors, **DESKTOP) as page:
        yield page


def file(text: str) -> dict[str, object]:
    return {"name": NAME, "mimeType": "text/plain", "buffer": text.encode()}


def upload(page: Page, text: str, status: int, query: str = "") -> None:
    """Choose a file named comunicato.txt and wait for the upload's reply."""
    with page.expect_response(
        lambda r: "/api/documents" in r.url and r.request.method == "POST"
    ) as info:
        page.locator("#upload-input").set_input_files([file(text)])
    assert info.value.status == status
    assert info.value.url.endswith(f"/api/documents{query}")


def test_a_name_clash_asks_and_cancel_keep_both_and_replace_do_what_they_say(
    clash_page: Page, clash_server: Server, page_errors: PageErrors, artifacts: Path
) -> None:
    page = clash_page
    page_errors.allow(r"status of 409")  # the clashing uploads, logged by Chromium
    page.goto("/admin")
    page.locator("#token").fill(clash_server.admin_token)
    page.locator("#token").press("Enter")
    rows = page.locator("#documents tr")
    titles = page.locator("#documents td.title")
    expect(rows).to_have_count(1)
    panel = page.locator("[data-testid=upload-conflicts]")

    upload(page, AGRIFOOD, 200)
    expect(rows).to_have_count(2)
    expect(panel).to_be_hidden()

    # Another article under the same name: the page asks, and cancel changes nothing.
    upload(page, ROBOT, 409)
    expect(panel).to_be_visible()
    expect(page.locator("[data-testid=conflict-file]")).to_have_text(
        [f"{NAME}: già salvato come «Bando filiere corte del Clust-ER Agrifood»"]
    )
    page.screenshot(path=artifacts / "admin-upload-conflict.png")
    page.locator("[data-testid=conflict-cancel]").click()
    expect(panel).to_be_hidden()
    expect(page.locator("#upload-message")).to_contain_text("annullato")
    expect(rows).to_have_count(2)

    # Keep both: the second article is stored beside the first.
    upload(page, ROBOT, 409)
    with page.expect_response(lambda r: "on_conflict=keep" in r.url) as kept:
        page.locator("[data-testid=conflict-keep]").click()
    assert kept.value.status == 200
    assert kept.value.json()["added"] == 1
    expect(panel).to_be_hidden()
    expect(rows).to_have_count(3)
    expect(titles).to_contain_text(
        ["Scuola estiva sui robot", "Bando filiere corte del Clust-ER Agrifood"]  # newest first
    )

    # Replace: the article first stored under the name becomes the new one.
    upload(page, PORTO, 409)
    with page.expect_response(lambda r: "on_conflict=replace" in r.url) as replaced:
        page.locator("[data-testid=conflict-replace]").click()
    assert replaced.value.status == 200
    assert replaced.value.json()["updated"] == 1
    expect(page.locator("#upload-message")).to_contain_text("aggiornati 1")
    expect(rows).to_have_count(3)
    expect(page.locator("#documents")).to_contain_text("Accordo tra il consorzio e il porto")
    expect(page.locator("#documents")).not_to_contain_text("Bando filiere corte")
    uploads = clash_server.data_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["comunicato-2.txt", NAME]
    assert (uploads / NAME).read_text(encoding="utf-8") == PORTO
