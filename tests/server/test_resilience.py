"""Resilience with real `clusterchat serve` processes: re-indexing under load, a SIGKILL in
the middle of a job, and several workers seeing the new generation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from index.docstore import DocStore
from index.generations import current_name
from server.pipeline import ingest_paths
from server.settings import Settings

pytestmark = pytest.mark.slow

NEW_QUESTION = "Quante serre idroponiche ha inaugurato il consorzio Alfa Verde a Ferrara?"
NEW_URL = "https://news.clust-er.example/serre-ferrara"


def add_articles(settings: Settings, folder: Path, count: int, *, long: bool = False) -> None:
    """Store new articles (no index update), so the next re-index must embed their text."""
    folder.mkdir()
    (folder / "serre.txt").write_text(
        f"---\ntitle: Il consorzio Alfa Verde inaugura le serre di Ferrara\ndate: 2024-08-30\n"
        f"url: {NEW_URL}\n---\n\nIl consorzio Alfa Verde ha inaugurato a Ferrara 47 serre "
        "idroponiche alimentate da pannelli solari.\n",
        encoding="utf-8",
    )
    sentence = "Il laboratorio numero {i} ha accolto {n} visitatori nella giornata aperta di {m}. "
    for i in range(count - 1):
        body = "".join(
            sentence.format(i=i, n=100 + j, m=m)
            for j, m in enumerate(["marzo", "aprile", "maggio", "giugno"] * 4)
        )
        if not long:
            body = body[:300]
        (folder / f"extra-{i}.txt").write_text(
            f"---\ntitle: Giornata aperta del laboratorio {i}\ndate: 2024-09-10\n---\n\n{body}\n",
            encoding="utf-8",
        )
    store = DocStore(settings.db_path)
    try:
        report = ingest_paths(
            [folder], store, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap
        )
        assert report.added == count
        assert not report.failed
    finally:
        store.close()


def job_state(url: str, job_id: str, admin: dict[str, str]) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/jobs/{job_id}", headers=admin, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_done(url: str, job_id: str, admin: dict[str, str], timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = job_state(url, job_id, admin)
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def cites_new(answer: dict[str, Any]) -> bool:
    return any(c["url"] == NEW_URL for c in answer["citations"])


def test_answers_switch_generation_atomically_under_load(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    serve_process: Callable[..., Any],
    admin: dict[str, str],
) -> None:
    data = copy_built(tmp_path / "data")
    add_articles(make_settings(data), tmp_path / "nuovi", 3)
    server = serve_process(data)
    old = httpx.get(f"{server.url}/healthz").json()["generation"]
    switched = threading.Event()
    seen: dict[int, list[tuple[bool, bool]]] = {i: [] for i in range(20)}  # (after job, new?)
    errors: list[str] = []

    def client(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            while True:
                after = switched.is_set()
                try:
                    response = http.post("/api/ask", json={"question": NEW_QUESTION})
                except httpx.HTTPError as exc:
                    errors.append(f"client {i}: {exc!r}")
                    return
                if response.status_code != 200:
                    errors.append(f"client {i}: {response.status_code} {response.text[:200]}")
                    return
                seen[i].append((after, cites_new(response.json())))
                if after:  # one answer asked after the job ended is enough
                    return

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    started = httpx.post(f"{server.url}/api/reindex", headers=admin, timeout=30)
    assert started.status_code == 200, started.text
    generations = set()
    job_id = started.json()["job_id"]
    while (job := job_state(server.url, job_id, admin))["state"] not in ("done", "failed"):
        generations.add(httpx.get(f"{server.url}/healthz", timeout=30).json()["generation"])
        time.sleep(0.2)
    switched.set()
    assert job["state"] == "done", job
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    new = httpx.get(f"{server.url}/healthz").json()["generation"]
    assert new == job["counts"]["generation"] != old
    assert generations <= {old, new}
    for i, answers in seen.items():
        news = [is_new for _, is_new in answers]
        # old generation (the fact is unknown) until the switch, then the new one, never back
        first_new = news.index(True) if True in news else len(news)
        assert all(news[first_new:]), f"client {i} went back to the old index: {answers}"
        assert answers[-1] == (True, True), f"client {i}: {answers}"
    assert any(answers[0] == (False, False) for answers in seen.values())


def test_sigkill_mid_job_keeps_the_old_generation_and_the_job_can_rerun(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    serve_process: Callable[..., Any],
    admin: dict[str, str],
) -> None:
    data = copy_built(tmp_path / "data")
    settings = make_settings(data)
    add_articles(settings, tmp_path / "nuovi", 12, long=True)  # ~12 s of embedding
    server = serve_process(data)
    old = httpx.get(f"{server.url}/healthz").json()
    job_id = httpx.post(f"{server.url}/api/reindex", headers=admin).json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := job_state(server.url, job_id, admin))["state"] != "running" or not job["total"]:
        assert job["state"] in ("queued", "running"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    time.sleep(1.0)  # inside the embedding of the new text
    assert job_state(server.url, job_id, admin)["state"] == "running"
    server.kill()

    assert current_name(settings.index_dir) == old["generation"]
    restarted = serve_process(data)
    health = httpx.get(f"{restarted.url}/healthz").json()
    assert health == old  # same generation, documents and chunks
    answer = httpx.post(
        f"{restarted.url}/api/ask",
        timeout=60,
        json={"question": "Quanti partecipanti ha avuto il Forum Digitale?"},
    )
    assert answer.status_code == 200
    assert "320" in answer.json()["answer"]
    interrupted = job_state(restarted.url, job_id, admin)
    assert interrupted["state"] == "failed"
    assert "interrupted" in interrupted["errors"][0]

    rerun = httpx.post(f"{restarted.url}/api/reindex", headers=admin)
    assert rerun.status_code == 200, rerun.text
    job = wait_done(restarted.url, rerun.json()["job_id"], admin)
    assert job["state"] == "done", job
    after = httpx.get(f"{restarted.url}/healthz").json()
    assert after["generation"] != old["generation"]
    assert after["documents"] == old["documents"] + 12
    answer = httpx.post(f"{restarted.url}/api/ask", json={"question": NEW_QUESTION}, timeout=60)
    assert cites_new(answer.json())
    assert not list(settings.index_dir.glob(".tmp-*"))  # the killed build's folder is gone


def test_every_worker_serves_the_new_generation(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    serve_process: Callable[..., Any],
    admin: dict[str, str],
) -> None:
    data = copy_built(tmp_path / "data")
    add_articles(make_settings(data), tmp_path / "nuovi", 1)
    server = serve_process(data, workers=2)
    old = {httpx.get(f"{server.url}/healthz").json()["generation"] for _ in range(10)}
    assert len(old) == 1
    started = httpx.post(f"{server.url}/api/reindex", headers=admin)
    assert started.status_code == 200, started.text
    job = wait_done(server.url, started.json()["job_id"], admin)  # state shared via SQLite
    assert job["state"] == "done", job
    new = job["counts"]["generation"]
    assert new not in old
    # A new connection per call, so the kernel spreads them over both workers.
    seen = [httpx.get(f"{server.url}/healthz").json() for _ in range(30)]
    assert {h["generation"] for h in seen} == {new}
    assert {h["documents"] for h in seen} == {5}
    answers = [
        httpx.post(f"{server.url}/api/ask", json={"question": NEW_QUESTION}, timeout=60).json()
        for _ in range(6)
    ]
    assert all(cites_new(a) for a in answers)
