"""Two `clusterchat serve` processes on one Postgres database, each with its own empty
data folder: the database is all they share. They serve the same answers, see each other's
writes within 2 s, run each background job once and both report its progress."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from server.settings import Settings
from tests import pg
from tests.server.conftest import ServeProcess, admin_headers
from tests.server.test_api import NEW_ARTICLE, _add_uncached_articles

pytestmark = pytest.mark.slow
CLI = Path(sys.executable).parent / "clusterchat"
VISIBLE_WITHIN_S = 2.0
QUESTIONS = (
    "Quanti partecipanti ha avuto il Forum Digitale?",
    "Chi ha firmato l'accordo Clust-ER Health?",
    "Di cosa parla la nota di prova?",
)


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, pg_server: Any, built_pg: str
) -> Iterator[tuple[str, ServeProcess, ServeProcess]]:
    """The database URL and two servers on it (a copy of the built corpus)."""
    url = pg.create_database(pg_server, template=built_pg)
    root = tmp_path_factory.mktemp("two-servers")
    started = []
    try:
        for name in ("a", "b"):
            (root / name).mkdir()
            server = ServeProcess(root / name / "data", env={"CLUSTERCHAT_DATABASE_URL": url})
            started.append(server.start())
        yield url, started[0], started[1]
    finally:
        for server in started:
            server.stop()


def wait_job(base: str, job_id: str, timeout: float = 120) -> tuple[dict[str, Any], float]:
    """Poll a job on the server at `base` until it ends: its last state and when it ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/api/jobs/{job_id}", headers=admin_headers(), timeout=10)
        assert job.status_code == 200, job.text
        if job.json()["state"] in ("done", "failed"):
            return job.json(), time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def seconds_until(check: Callable[[], bool], timeout: float = 10) -> float:
    """How long until `check()` holds (fails after `timeout`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "never became true"
        time.sleep(0.05)
    return time.monotonic() - started


def versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM index_versions ORDER BY id")]


def ask(base: str, question: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_both_servers_serve_the_same_index_and_answers(servers):
    _url, a, b = servers
    health = [httpx.get(f"{s.url}/healthz").json() for s in (a, b)]
    assert health[0] == health[1]
    assert health[0]["documents"] == 4
    for question in QUESTIONS:
        assert ask(a.url, question) | {"timings_ms": None} == ask(b.url, question) | {
            "timings_ms": None
        }


def test_twenty_concurrent_clients_over_two_servers_get_no_error(servers):
    _url, a, b = servers

    def client(n: int) -> list[int]:
        base = (a, b)[n % 2].url
        statuses = []
        with httpx.Client(base_url=base, timeout=120) as http:
            for i in range(3):
                question = QUESTIONS[(n + i) % len(QUESTIONS)]
                statuses.append(http.post("/api/ask", json={"question": question}).status_code)
                statuses.append(http.post("/api/search", json={"query": question}).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = [s for batch in pool.map(client, range(20)) for s in batch]
    assert len(statuses) == 120
    assert statuses.count(200) == 120


def test_an_upload_to_one_server_is_answered_by_the_other_within_2s(servers):
    url, a, b = servers
    question = "Quante serre idroponiche ha inaugurato il consorzio Alfa Verde?"
    assert "47" not in ask(b.url, question)["answer"]
    before = versions(url)
    response = httpx.post(
        f"{a.url}/api/documents",
        headers=admin_headers(),
        files=[("files", ("serre ferrara.txt", NEW_ARTICLE.encode(), "text/plain"))],
        timeout=60,
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]
    job, ended = wait_job(b.url, job_id)  # the other server reports the job
    assert job["state"] == "done", job
    assert job["counts"]["embedded"] >= 1
    waited = time.monotonic() - ended
    waited += seconds_until(lambda: "47" in ask(b.url, question)["answer"])
    assert waited <= VISIBLE_WITHIN_S
    # The job ran once: one new version, whichever server claimed it.
    assert versions(url)[len(before) - 1 :][-2:] == [before[-1], job["counts"]["generation"]]
    assert httpx.get(f"{a.url}/api/jobs/{job_id}", headers=admin_headers()).json() == job

    # Deleted through the other server: gone from the first one's answers within 2 s.
    documents = httpx.get(f"{b.url}/api/documents", headers=admin_headers()).json()
    (target,) = [
        d["id"]
        for d in documents["documents"]
        if d["source"].endswith(".txt") and "serre" in d["source"]
    ]
    deleted = httpx.delete(f"{b.url}/api/documents/{target}", headers=admin_headers())
    assert deleted.status_code == 200, deleted.text
    job, ended = wait_job(a.url, deleted.json()["job_id"])
    assert job["state"] == "done", job

    def gone() -> bool:
        hits = httpx.post(f"{a.url}/api/search", json={"query": "serre idroponiche"}).json()
        return target not in {h["article_id"] for h in hits["hits"]}

    assert time.monotonic() - ended + seconds_until(gone) <= VISIBLE_WITHIN_S


def test_a_reindex_runs_once_and_blocks_a_second_one_on_any_server(servers, tmp_path):
    url, a, b = servers
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    _add_uncached_articles(settings, tmp_path / "extra", 3)  # the job has text to embed
    before = versions(url)
    started = httpx.post(f"{a.url}/api/reindex", headers=admin_headers())
    assert started.status_code == 200, started.text
    refused = httpx.post(f"{b.url}/api/reindex", headers=admin_headers())
    assert refused.status_code == 409
    assert "already running" in refused.json()["detail"]
    job, _ = wait_job(b.url, started.json()["job_id"])
    assert job["state"] == "done", job
    assert job["counts"]["embedded"] == 6  # three chunks and their sentences, once
    after = versions(url)
    assert after[-1] == job["counts"]["generation"]
    assert before[-1] in after
    assert after.index(job["counts"]["generation"]) == after.index(before[-1]) + 1
    for server in (a, b):
        assert httpx.get(f"{server.url}/healthz").json()["generation"] == after[-1]


def test_the_command_line_writes_what_both_servers_answer_within_2s(servers, tmp_path):
    url, a, b = servers
    note = tmp_path / "fiera.txt"
    note.write_text(
        "---\ntitle: La fiera del mobile di Forlì\ndate: 2024-10-02\n---\n\n"
        "Alla fiera del mobile di Forlì hanno esposto 83 aziende del distretto del legno.\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    env.update(CLUSTERCHAT_DATABASE_URL=url, OMP_WAIT_POLICY="PASSIVE")
    result = subprocess.run(
        [str(CLI), "ingest", str(note), "--data-dir", str(tmp_path / "cli-data")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    ended = time.monotonic()
    question = "Quante aziende hanno esposto alla fiera del mobile di Forlì?"
    for server in (a, b):
        waited = time.monotonic() - ended
        waited += seconds_until(lambda s=server: "83" in ask(s.url, question)["answer"])
        assert waited <= VISIBLE_WITHIN_S
