"""Browser-test fixtures: a real `clusterchat serve` on a small corpus, and headless Chromium."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

ADMIN_TOKEN = "test-token"
READER_KEY = "chiave-dei-soci"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DEMO_CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"
BIN = Path(sys.executable).parent
HEALTH_TIMEOUT_S = 120
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=2">'


def _article(title: str, published: str, url: str | None, *sentences: str) -> str:
    """A .txt article with front matter (title, date, url), one sentence a line."""
    meta = [f"title: {title}", f"date: {published}"] + ([f"url: {url}"] if url else [])
    return "---\n" + "\n".join(meta) + "\n---\n" + "\n".join(sentences) + "\n"


# Small Italian articles with known facts.
ARTICLES = {
    "forum-digitale.txt": _article(
        "Forum Digitale 2024 a Bologna",
        "2024-03-12",
        "https://example.org/forum-digitale",
        "Il Forum Digitale 2024 è stato organizzato dal Clust-ER Digitale a Bologna "
        "il 12 marzo 2024.",
        "Il forum ha riunito oltre 300 partecipanti tra imprese e università.",
        "Il tema centrale era l'intelligenza artificiale per le piccole e medie imprese.",
    ),
    "agrifood-parma.txt": _article(
        "Innovation Day Agrifood a Parma",
        "2024-06-05",
        "https://example.org/agrifood-parma",
        "L'Innovation Day del cluster agroalimentare si è tenuto a Parma il 5 giugno 2024.",
        "Vi hanno partecipato quaranta aziende del settore lattiero-caseario.",
        "Il premio per la migliore startup è andato a Lattevivo, di Reggio Emilia.",
    ),
    "health-modena.txt": _article(
        "Health Summit a Modena",
        "2024-09-20",
        None,
        "Il Clust-ER Health ha organizzato a Modena un summit sulla medicina di precisione "
        "il 20 settembre 2024.",
        "La relatrice principale è stata la professoressa Giulia Bianchi.",
        "Al summit hanno partecipato ospedali, laboratori e imprese biomedicali.",
    ),
    "meccatronica-imola.txt": _article(
        f"Robot {XSS_SCRIPT} {XSS_IMG} della meccatronica a Imola",
        "2024-10-03",
        "https://example.org/meccatronica-imola",
        "Il cluster della meccatronica ha presentato il robot collaborativo Braccio Uno "
        "a Imola il 3 ottobre 2024.",
        f"Il robot Braccio Uno è stato sviluppato da Meccanica Santerno {XSS_SCRIPT} {XSS_IMG} "
        "insieme all'Università di Bologna.",
        "Il robot sarà usato nelle linee di assemblaggio delle imprese del distretto.",
    ),
}

# Uploaded through the admin page by the tests, so it is not in the index at start.
UPLOAD_NAME = "salone-nautica-rimini.txt"
UPLOAD_ARTICLE = _article(
    "Salone della Nautica di Rimini",
    "2025-02-10",
    "https://example.org/salone-nautica",
    "Il cluster della nautica ha annunciato il Salone della Nautica di Rimini, "
    "che si terrà il 14 maggio 2025.",
    "La madrina del Salone della Nautica sarà la velista Sofia Gardini.",
    "Al salone esporranno cantieri navali e produttori di componenti della riviera romagnola.",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env() -> dict[str, str]:
    # Drop the developer's CLUSTERCHAT_* settings (an LLM URL, say) so answers are extractive.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    env["CLUSTERCHAT_ADMIN_TOKEN"] = ADMIN_TOKEN
    return env


def _cli() -> Path:
    cli = BIN / "clusterchat"
    if not cli.exists():
        pytest.fail(f"{cli} not found: install the project (pip install -e .)")
    return cli


def _health(base_url: str) -> int:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    status = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"clusterchat serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        status = _health(base_url)
        if status == 200:
            return
        time.sleep(0.5)
    pytest.fail(
        f"/healthz not 200 after {HEALTH_TIMEOUT_S} s (last {status}):\n{log.read_text()[-3000:]}"
    )


@dataclass
class Server:
    """A running `clusterchat serve` and where its test files are."""

    base_url: str
    data_dir: Path
    upload_file: Path
    admin_token: str = ADMIN_TOKEN
    api_key: str | None = None  # the reader key the server requires, if any


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Ingest the small corpus, then run the real server until the session ends."""
    root = tmp_path_factory.mktemp("clusterchat-web")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    upload = root / "upload" / UPLOAD_NAME
    upload.parent.mkdir()
    upload.write_text(UPLOAD_ARTICLE, encoding="utf-8")
    data_dir = root / "data"
    cli, env = _cli(), _server_env()
    ingest = subprocess.run(
        [cli, "ingest", *sorted(corpus.iterdir()), "--data-dir", data_dir],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if ingest.returncode != 0:
        pytest.fail(f"clusterchat ingest failed ({ingest.returncode}):\n{ingest.stderr[-3000:]}")
    with _serving(cli, data_dir, root, env, "serve.log") as base_url:
        yield Server(base_url, data_dir, upload)


@contextmanager
def _serving(
    cli: Path, data_dir: Path, root: Path, env: dict[str, str], log_name: str
) -> Iterator[str]:
    """Run `clusterchat serve` on `data_dir` until the block ends; yields its base URL."""
    port = _free_port()
    log = root / log_name
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [cli, "serve", "--data-dir", data_dir, "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, base_url, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def keyed_server(server: Server) -> Iterator[Server]:
    """A second server on the same data, with CLUSTERCHAT_API_KEYS = [READER_KEY]."""
    env = {**_server_env(), "CLUSTERCHAT_API_KEYS": json.dumps([READER_KEY])}
    root = server.data_dir.parent
    with _serving(_cli(), server.data_dir, root, env, "serve-keyed.log") as base_url:
        yield Server(base_url, server.data_dir, server.upload_file, api_key=READER_KEY)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over the 14 articles of demo/corpus (what `make run` serves)."""
    root = tmp_path_factory.mktemp("clusterchat-demo")
    data_dir = root / "data"
    cli, env = _cli(), _server_env()
    ingest = subprocess.run(
        [cli, "ingest", DEMO_CORPUS, "--data-dir", data_dir],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if ingest.returncode != 0:
        pytest.fail(f"clusterchat ingest failed ({ingest.returncode}):\n{ingest.stderr[-3000:]}")
    with _serving(cli, data_dir, root, env, "serve-demo.log") as base_url:
        yield Server(base_url, data_dir, root / "unused.txt")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (never `playwright install`)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots of the main states go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions seen by a page; tests may allow known ones."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def _watch(page: Page, seen: PageErrors) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(error: Error) -> None:
        seen.errors.append(f"pageerror: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)


@contextmanager
def _open_page(
    browser: Browser, server: Server, seen: PageErrors, **options: object
) -> Iterator[Page]:
    """A page in a fresh context (empty localStorage); fails on console errors when done."""
    context = browser.new_context(base_url=server.base_url, locale="it-IT", **options)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    page = context.new_page()
    _watch(page, seen)
    yield page
    context.close()
    assert seen.unexpected() == [], "console errors or page errors"


DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def page(browser: Browser, server: Server, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh desktop page; fails the test on console errors."""
    with _open_page(browser, server, page_errors, **DESKTOP) as page:
        yield page


@pytest.fixture
def keyed_page(browser: Browser, keyed_server: Server, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh desktop page on the server that requires an API key."""
    with _open_page(browser, keyed_server, page_errors, **DESKTOP) as page:
        yield page


@pytest.fixture
def demo_page(browser: Browser, demo_server: Server, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh desktop page on the demo-corpus server."""
    with _open_page(browser, demo_server, page_errors, **DESKTOP) as page:
        yield page


@pytest.fixture
def mobile_page(browser: Browser, server: Server, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh 360x740 touch page; fails the test on console errors."""
    touch = {"device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    viewport = {"width": 360, "height": 740}
    with _open_page(browser, server, page_errors, viewport=viewport, **touch) as page:
        yield page
