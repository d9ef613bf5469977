"""HTTP API fixtures: one small real index per session, copied when a test mutates it.

The index is built once with the real pipeline (parsers, chunker, SQLite, the bundled e5
model, FAISS, BM25) from three demo articles and one test note. Copies carry the SQLite
embedding cache, so re-indexing a copy embeds nothing but new text.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from index.docstore import DocStore
from index.embedder import E5Embedder
from server.http.app import create_app
from server.pipeline import ingest_paths, update_index
from server.settings import Settings
from server.wiring import indexer_for, open_store
from tests import pg
from tests.pg import BACKENDS

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "corpus"
TEST_DATA = REPO / "tests" / "data"
CLUSTERCHAT = REPO / ".venv" / "bin" / "clusterchat"
ADMIN_TOKEN = "segreto-di-prova"

# The indexed articles: the Forum Digitale report (two panels), its announcement, the
# Clust-ER Health agreement and the short test note (the only one whose path says "nota").
CORPUS_FILES = (
    DEMO / "forum-digitale-2024-resoconto.html",
    DEMO / "forum-digitale-2024-annuncio.html",
    DEMO / "accordo-health-europa.txt",
    TEST_DATA / "nota.txt",
)
DATES = {
    "forum-digitale-2024-resoconto.html": "2024-04-22",
    "forum-digitale-2024-annuncio.html": "2024-03-20",
    "accordo-health-europa.txt": "2024-06-19",
    "nota.txt": "2024-04-02",
}


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test data dir; the admin API is on unless overridden."""
    values: dict[str, object] = {"data_dir": data_dir, "admin_token": ADMIN_TOKEN}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def admin_headers(token: str = ADMIN_TOKEN) -> dict[str, str]:
    """The admin Authorization header."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with copies of the indexed articles (sources are paths inside it)."""
    folder = tmp_path_factory.mktemp("corpus")
    for path in CORPUS_FILES:
        shutil.copy2(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def built_dir(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path, e5: E5Embedder) -> Path:
    """A data dir with the four articles stored and indexed. Never mutate it: copy it."""
    data = tmp_path_factory.mktemp("built") / "data"
    settings = settings_for(data)
    store = DocStore(settings.db_path)
    try:
        report = ingest_paths(
            [corpus_dir],
            store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
        )
        assert report.added == len(CORPUS_FILES), report
        assert not report.failed, report
        built = update_index(store, e5, settings.index_dir)
        assert built is not None
        assert built.chunks > 0
    finally:
        store.close()
    return data


@pytest.fixture(scope="session")
def copy_built(built_dir: Path) -> Callable[[Path], Path]:
    """`copy_built(dest)`: a private, writable copy of the built data dir."""

    def copy(dest: Path) -> Path:
        shutil.copytree(built_dir, dest)
        return dest

    return copy


@pytest.fixture
def data_copy(tmp_path: Path, copy_built: Callable[[Path], Path]) -> Path:
    """A writable copy of the built data dir for one test."""
    return copy_built(tmp_path / "data")


def wait_job(client: TestClient | httpx.Client, job_id: str, timeout: float = 120) -> dict:
    """Poll GET /api/jobs/{id} until the job ends; returns its last state."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/jobs/{job_id}", headers=admin_headers())
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']} after {timeout}s"
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadServer:
    """A real uvicorn server for one app, on a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def thread_server() -> Callable[[FastAPI], ThreadServer]:
    """`with thread_server(app) as server:` serves `app` over real HTTP at `server.url`."""
    return ThreadServer


class ServeProcess:
    """`clusterchat serve` as a real subprocess (its own process group, killable)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.env = env or {}  # extra environment, e.g. CLUSTERCHAT_* settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or data_dir.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> ServeProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
        env.update(
            CLUSTERCHAT_ADMIN_TOKEN=ADMIN_TOKEN,
            CLUSTERCHAT_LOG_LEVEL="WARNING",
            OMP_WAIT_POLICY="PASSIVE",
            TOKENIZERS_PARALLELISM="false",
        )
        env.update(self.env)
        self.proc = subprocess.Popen(
            [
                str(CLUSTERCHAT),
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            cwd=self.data_dir.parent,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited early:\n{self.log.read_text()}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not come up:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any workers)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=15)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, 15)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def serve_process() -> Iterator[Callable[..., ServeProcess]]:
    """`serve_process(data_dir, workers=1)` starts `clusterchat serve`; stopped after the test."""
    started: list[ServeProcess] = []

    def start(data_dir: Path, **kwargs: object) -> ServeProcess:
        server = ServeProcess(data_dir, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def built_pg(pg_server: Any, corpus_dir: Path, e5: E5Embedder, tmp_path_factory: Any) -> str:
    """The name of a database with the four articles stored and indexed, as `built_dir`
    holds them: a template that tests copy (`CREATE DATABASE ... TEMPLATE`), never use."""
    url = pg.create_database(pg_server)
    settings = settings_for(tmp_path_factory.mktemp("built-pg"), database_url=url)
    store = open_store(settings)
    try:
        report = ingest_paths(
            [corpus_dir],
            store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
        )
        assert report.added == len(CORPUS_FILES), report
        assert update_index(store, e5, indexer_for(settings, store)) is not None
    finally:
        store.close()
    return pg.database_name(url)


@pytest.fixture(params=BACKENDS)
def built_settings(
    request: pytest.FixtureRequest, copy_built: Callable[[Path], Path]
) -> Callable[[Path], Settings]:
    """`built_settings(dest)`: settings of a private copy of the built corpus, once per
    backend (a data dir copy, or an empty data dir and a copy of the built database)."""

    def make(dest: Path) -> Settings:
        if request.param == "postgres":
            server = request.getfixturevalue("pg_server")
            url = pg.create_database(server, template=request.getfixturevalue("built_pg"))
            dest.mkdir(parents=True)
            return settings_for(dest, database_url=url)
        return settings_for(copy_built(dest))

    return make


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    copy_built: Callable[[Path], Path],
) -> Iterator[TestClient]:
    """A TestClient over a module-private copy of the built data dir (admin API on), once
    per backend: the Postgres one gets a copy of the built database."""
    data = tmp_path_factory.mktemp("api") / "data"
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        url = pg.create_database(server, template=request.getfixturevalue("built_pg"))
        data.mkdir()
        settings = settings_for(data, database_url=url)
    else:
        settings = settings_for(copy_built(data))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., Settings]:
    """`make_settings(data_dir, **overrides)`: Settings with the admin token set."""
    return settings_for


@pytest.fixture(scope="session")
def admin() -> dict[str, str]:
    """The admin Authorization header."""
    return admin_headers()


@pytest.fixture(scope="session")
def job_waiter() -> Callable[..., dict]:
    """`job_waiter(client, job_id, timeout=120)`: poll a job until it is done or failed."""
    return wait_job
