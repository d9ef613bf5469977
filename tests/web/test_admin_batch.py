"""The admin page uploads a mixed batch: valid files are stored, each refused one is listed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import (
    ARTICLES,
    DESKTOP,
    UPLOAD_ARTICLE,
    UPLOAD_NAME,
    PageErrors,
    Server,
    _cli,
    _open_page,
    _server_env,
    _serving,
)

JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def batch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (one article), so the shared server's document counts hold."""
    root = tmp_path_factory.mktemp("admin-batch")
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
    with _serving(cli, data_dir, root, env, "serve-batch.log") as base_url:
        yield Server(base_url, data_dir, root / UPLOAD_NAME)


@pytest.fixture
def batch_page(browser: Browser, batch_server: Server, page_errors: PageErrors) -> Iterator[Page]:
    with _open_page(browser, batch_server, page_errors, **DESKTOP) as page:
        yield page


def payload(name: str, content: bytes) -> dict[str, object]:
    return {"name": name, "mimeType": "application/octet-stream", "buffer": content}


def test_a_mixed_batch_stores_the_valid_file_and_lists_each_refused_one(
    batch_page: Page, batch_server: Server, page_errors: PageErrors
) -> None:
    page = batch_page
    page_errors.allow(r"status of 415")  # the all-refused batch below, logged by Chromium
    page.goto("/admin")
    page.locator("#token").fill(batch_server.admin_token)
    page.locator("#token").press("Enter")
    rows = page.locator("#documents tr")
    expect(rows).to_have_count(1)

    batch = [
        payload("programma.exe", b"MZ\x90\x00\x03\x00\x00\x00"),
        payload(UPLOAD_NAME, UPLOAD_ARTICLE.encode()),
        payload("vuoto.txt", b"   \n\n  "),
    ]
    with page.expect_response(
        lambda r: r.url.endswith("/api/documents") and r.request.method == "POST"
    ) as info:
        page.locator("#upload-input").set_input_files(batch)
    assert info.value.status == 200
    result = info.value.json()
    expect(page.locator("#upload-message")).to_contain_text("Aggiunti 1")
    expect(page.locator("#upload-message")).to_contain_text("falliti 2")
    failed = page.locator("[data-testid=upload-failed-file]")
    expect(failed).to_have_count(2)
    expect(failed.nth(0)).to_contain_text("programma.exe: unsupported file type")
    expect(failed.nth(1)).to_contain_text("vuoto.txt: ")
    expect(rows).to_have_count(2)
    expect(page.locator("#documents")).to_contain_text("Salone della Nautica di Rimini")
    job = page.locator(f"#job[data-job-id='{result['job_id']}']")
    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)

    # A batch with nothing to store is refused, and the page still names every file.
    bad = [payload("programma.exe", b"MZ\x90\x00"), payload("relazione.docx", b"PK\x03\x04")]
    with page.expect_response(lambda r: r.url.endswith("/api/documents")) as refused:
        page.locator("#upload-input").set_input_files(bad)
    assert refused.value.status == 415
    expect(page.locator("#upload-message")).to_contain_text("415")
    expect(failed).to_have_count(2)
    expect(failed.nth(0)).to_contain_text("programma.exe")
    expect(failed.nth(1)).to_contain_text("relazione.docx")
    expect(rows).to_have_count(2)
    assert not (batch_server.data_dir / "uploads" / "vuoto.txt").exists()
    assert sorted(p.name for p in Path(batch_server.data_dir / "uploads").iterdir()) == [
        UPLOAD_NAME
    ]
