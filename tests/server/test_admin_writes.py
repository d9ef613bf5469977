"""Writes lose nothing: concurrent uploads, writes during a job, deletes undone, batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from index.docstore import DocStore
from index.generations import build_lock
from server.http.app import create_app
from server.pipeline import ingest_paths
from server.settings import Settings
from tests.server.test_api import article_ids, assert_json_error

REPO = Path(__file__).resolve().parents[2]
WORDS = [f"codice{chr(97 + i)}{chr(122 - i)}lux" for i in range(20)]


def note(i: int, word: str) -> bytes:
    return (
        f"---\ntitle: Comunicato del consorzio numero {i}\ndate: 2024-07-{i % 28 + 1:02d}\n---\n\n"
        f"Il consorzio ha presentato il progetto {word} a Cesena con {30 + i} imprese. "
        f"Il progetto {word} sarà finanziato dalla regione per tre anni.\n"
    ).encode()


def stored(settings: Settings) -> tuple[int, int]:
    store = DocStore(settings.db_path)
    try:
        return store.counts()
    finally:
        store.close()


def wait_jobs(client: Any, job_ids: set[str], admin: dict[str, str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    for job_id in job_ids:
        while True:
            job = client.get(f"/api/jobs/{job_id}", headers=admin).json()
            if job["state"] in ("done", "failed"):
                assert job["state"] == "done", job
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.2)


def cli_ingest(folder: Path, data_dir: Path) -> subprocess.Popen[str]:
    """`clusterchat ingest FOLDER --no-index` in another process, on the same store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from server.cli import main; main()",
            "ingest",
            str(folder),
            "--data-dir",
            str(data_dir),
            "--no-index",
        ],
        env=env,
        cwd=data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_twenty_concurrent_uploads_with_readers_and_a_cli_ingest_are_all_stored_and_indexed(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
    thread_server: Any,
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    cli_folder = tmp_path / "cli"
    cli_folder.mkdir()
    for i in range(5):
        (cli_folder / f"riga-{i}.txt").write_bytes(note(100 + i, f"riga{chr(97 + i)}cli"))
    before = stored(settings)[0]
    replies: list[httpx.Response] = []
    errors: list[BaseException] = []
    done = threading.Event()
    with thread_server(create_app(settings)) as server:
        gate = threading.Barrier(20 + 3)

        def upload(i: int) -> None:
            try:
                gate.wait()
                files = [("files", (f"comunicato {i}.txt", note(i, WORDS[i]), "text/plain"))]
                replies.append(
                    httpx.post(
                        f"{server.url}/api/documents", headers=admin, files=files, timeout=120
                    )
                )
            except BaseException as exc:  # collected: the test asserts there are none
                errors.append(exc)

        def read() -> None:
            try:
                gate.wait()
                while not done.is_set():
                    for response in (
                        httpx.get(f"{server.url}/healthz", timeout=60),
                        httpx.get(f"{server.url}/api/documents", headers=admin, timeout=60),
                        httpx.post(
                            f"{server.url}/api/search", json={"query": "consorzio"}, timeout=60
                        ),
                    ):
                        assert response.status_code == 200, response.text
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(20)]
        threads += [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        other = cli_ingest(cli_folder, settings.data_dir)
        for thread in threads[:20]:
            thread.join(180)
        done.set()
        for thread in threads[20:]:
            thread.join(60)
        _out, err = other.communicate(timeout=180)
        assert other.returncode == 0, err
        assert errors == []
        assert sorted(r.status_code for r in replies) == [200] * 20, [r.text for r in replies]
        assert [r.json()["added"] for r in replies] == [1] * 20
        with httpx.Client(base_url=server.url, timeout=60) as client:
            wait_jobs(client, {r.json()["job_id"] for r in replies}, admin)
            assert stored(settings)[0] == before + 25
            saved = sorted(p.name for p in settings.uploads_dir.iterdir())
            assert saved == sorted(f"comunicato_{i}.txt" for i in range(20))
            ids = article_ids(client, admin)  # type: ignore[arg-type]
            for i, word in enumerate(WORDS):
                hits = client.post("/api/search", json={"query": word, "k": 5}).json()["hits"]
                assert ids[f"comunicato_{i}.txt"] in {h["article_id"] for h in hits}, word
            # The CLI's articles reach the index with the next build, whoever starts it.
            reindex = client.post("/api/reindex", headers=admin).json()["job_id"]
            wait_jobs(client, {reindex}, admin)
            assert client.get("/healthz").json()["documents"] == before + 25


NEW_ARTICLE = (
    "---\ntitle: Il consorzio Alfa Verde inaugura le serre idroponiche di Ferrara\n"
    "date: 2024-08-30\nurl: https://news.clust-er.example/serre-ferrara\n---\n\n"
    "Il consorzio Alfa Verde ha inaugurato a Ferrara 47 serre idroponiche alimentate da "
    "pannelli solari. Il progetto è coordinato dalla dott.ssa Ilaria Mazzanti.\n"
).encode()
NEW_QUESTION = {"question": "Quante serre idroponiche ha inaugurato il consorzio Alfa Verde?"}
PANEL_QUESTION = {"question": "Chi ha parlato al panel sul valore condiviso?"}


def wait_running(client: TestClient, job_id: str, admin: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while client.get(f"/api/jobs/{job_id}", headers=admin).json()["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_writes_during_a_job_queue_a_follow_up_and_the_index_ends_matching_the_store(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    with TestClient(create_app(settings)) as client:
        target = article_ids(client, admin)["forum-digitale-2024-resoconto.html"]
        assert target in {
            c["article_id"]
            for c in client.post("/api/ask", json=PANEL_QUESTION).json()["citations"]
        }
        # Another process's build holds the lock: the re-index job waits for it, running.
        with build_lock(settings.index_dir):
            running = client.post("/api/reindex", headers=admin).json()["job_id"]
            wait_running(client, running, admin)
            deleted = client.delete(f"/api/documents/{target}", headers=admin)
            assert deleted.status_code == 200, deleted.text
            assert deleted.json()["queued"] is True
            follow_up = deleted.json()["job_id"]
            assert follow_up not in (None, running)
            uploaded = client.post(
                "/api/documents", headers=admin, files=[("files", ("serre.txt", NEW_ARTICLE))]
            ).json()
            assert (uploaded["added"], uploaded["queued"]) == (1, True)
            assert uploaded["job_id"] == follow_up  # one follow-up for every write meanwhile
            job = client.get(f"/api/jobs/{follow_up}", headers=admin).json()
            assert job["state"] == "queued"
        wait_jobs(client, {running, follow_up}, admin)
        health = client.get("/healthz").json()
        assert (health["documents"], health["chunks"]) == stored(settings)
        answer = client.post("/api/ask", json=PANEL_QUESTION).json()
        assert target not in {c["article_id"] for c in answer["citations"]}
        answer = client.post("/api/ask", json=NEW_QUESTION).json()
        assert "47" in answer["answer"]


def add_uncached_articles(settings: Settings, folder: Path, count: int) -> None:
    """Store long new articles without indexing them, so the next build embeds for a while."""
    folder.mkdir()
    months = ["marzo", "aprile", "maggio", "giugno"] * 4
    for i in range(count):
        body = "".join(
            f"Il laboratorio numero {i} ha accolto {100 + j} visitatori nella giornata di {m}. "
            for j, m in enumerate(months)
        )
        (folder / f"extra-{i}.txt").write_text(
            f"---\ntitle: Giornata aperta del laboratorio {i}\ndate: 2024-09-10\n---\n\n{body}\n",
            encoding="utf-8",
        )
    store = DocStore(settings.db_path)
    try:
        report = ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
        assert (report.added, report.failed) == (count, [])
    finally:
        store.close()


@pytest.mark.slow
def test_a_delete_after_the_build_read_the_store_is_indexed_by_the_follow_up(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    add_uncached_articles(settings, tmp_path / "extra", 6)
    with TestClient(create_app(settings)) as client:
        target = article_ids(client, admin)["forum-digitale-2024-resoconto.html"]
        running = client.post("/api/reindex", headers=admin).json()["job_id"]
        deadline = time.monotonic() + 60
        while True:  # progress is reported once the build has read the store
            job = client.get(f"/api/jobs/{running}", headers=admin).json()
            if job["total"] > 0:
                break
            assert job["state"] in ("queued", "running"), job
            assert time.monotonic() < deadline, job
            time.sleep(0.02)
        deleted = client.delete(f"/api/documents/{target}", headers=admin).json()
        assert deleted["queued"] is True, "the build ended before the delete: make it longer"
        wait_jobs(client, {running, deleted["job_id"]}, admin)
        first = client.get(f"/api/jobs/{running}", headers=admin).json()
        last = client.get(f"/api/jobs/{deleted['job_id']}", headers=admin).json()
        assert last["counts"]["generation"] not in (None, first["counts"]["generation"])
        health = client.get("/healthz").json()
        assert health["generation"] == last["counts"]["generation"]
        assert (health["documents"], health["chunks"]) == stored(settings)
        answer = client.post("/api/ask", json=PANEL_QUESTION).json()
        assert target not in {c["article_id"] for c in answer["citations"]}


def test_a_deleted_upload_is_added_back_by_uploading_it_again(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    files = [("files", ("serre.txt", NEW_ARTICLE))]
    with TestClient(create_app(settings)) as client:
        first = client.post("/api/documents", headers=admin, files=files).json()
        assert first["added"] == 1
        article = article_ids(client, admin)["serre.txt"]
        deleted = client.delete(f"/api/documents/{article}", headers=admin).json()
        wait_jobs(client, {first["job_id"], deleted["job_id"]}, admin)
        assert "serre.txt" not in article_ids(client, admin)
        again = client.post("/api/documents", headers=admin, files=files).json()
        assert (again["added"], again["unchanged"]) == (1, 0)
        assert again["job_id"]
        wait_jobs(client, {again["job_id"]}, admin)
        assert article_ids(client, admin)["serre.txt"] == article
        answer = client.post("/api/ask", json=NEW_QUESTION).json()
        assert article in {c["article_id"] for c in answer["citations"]}


GOOD = ("serre.txt", NEW_ARTICLE)
EXE = ("programma.exe", b"MZ\x90\x00\x03\x00\x00\x00")
BIG = ("grande.txt", b"Titolo lungo\n\n" + b"parola " * 400)
EMPTY = ("vuoto.txt", b"   \n\n  ")


def test_a_batch_stores_its_valid_files_and_lists_each_rejected_one(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"), upload_max_bytes=2000)
    with TestClient(create_app(settings)) as client:
        files = [("files", f) for f in (EXE, GOOD, BIG, EMPTY)]
        response = client.post("/api/documents", headers=admin, files=files)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["added"], body["updated"], body["unchanged"]) == (1, 0, 0)
        reasons = {f["file"]: f["reason"] for f in body["failed"]}
        assert set(reasons) == {"programma.exe", "grande.txt", "vuoto.txt"}
        assert "unsupported" in reasons["programma.exe"]
        assert "upload limit" in reasons["grande.txt"]
        assert reasons["vuoto.txt"]
        assert not any(r.startswith(name) for name, r in reasons.items())  # no repeated name
        # Nothing half-done: only the stored file is kept under uploads/.
        assert sorted(p.name for p in settings.uploads_dir.glob("*")) == ["serre.txt"]
        wait_jobs(client, {body["job_id"]}, admin)
        assert "serre.txt" in article_ids(client, admin)

        # When nothing in the batch can be stored, the reply is an error naming each file.
        only_bad = client.post("/api/documents", headers=admin, files=[("files", EXE)] * 2)
        assert "programma.exe" in assert_json_error(only_bad, 415)
        assert [f["file"] for f in only_bad.json()["failed"]] == ["programma.exe"] * 2
        mixed = [("files", EXE), ("files", BIG), ("files", EMPTY)]
        response = client.post("/api/documents", headers=admin, files=mixed)
        detail = assert_json_error(response, 422)
        assert all(name in detail for name in ("programma.exe", "grande.txt"))
        listed = [f["file"] for f in response.json()["failed"]]
        assert listed == ["programma.exe", "grande.txt", "vuoto.txt"]
        assert sorted(p.name for p in settings.uploads_dir.glob("*")) == ["serre.txt"]


def test_a_broken_upload_over_a_stored_file_leaves_the_file_and_its_article(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    with TestClient(create_app(settings)) as client:
        client.post("/api/documents", headers=admin, files=[("files", GOOD)])
        before = client.get("/api/documents", headers=admin).json()
        broken = [("files", ("serre.txt", b"Titolo\n\nIl consorzio \xe8 partito.\n"))]
        # Replacing (a name clash is asked about first: tests/server/test_upload_conflicts.py).
        replace = "/api/documents?on_conflict=replace"
        detail = assert_json_error(client.post(replace, headers=admin, files=broken), 422)
        assert "serre.txt" in detail
        assert (settings.uploads_dir / "serre.txt").read_bytes() == NEW_ARTICLE
        assert client.get("/api/documents", headers=admin).json() == before

        lines = b'{"id": "riga-1", "title": "Riga", "text": "Il consorzio conta 12 imprese."}\n'
        client.post("/api/documents", headers=admin, files=[("files", ("righe.jsonl", lines))])
        before = client.get("/api/documents", headers=admin).json()
        every_line_bad = [("files", ("righe.jsonl", b'{"id": "riga-1", "title": \n'))]
        response = client.post(replace, headers=admin, files=every_line_bad)
        assert "righe.jsonl" in assert_json_error(response, 422)
        assert (settings.uploads_dir / "righe.jsonl").read_bytes() == lines
        assert client.get("/api/documents", headers=admin).json() == before


def clusterchat(*args: str | Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The real `clusterchat` command, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-c", "from server.cli import main; main()", *map(str, args)]
    return subprocess.run(
        [*command, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.mark.slow
def test_cli_delete_then_ingest_of_the_same_file_adds_the_article_back(tmp_path: Path) -> None:
    folder, data = tmp_path / "articoli", tmp_path / "data"
    folder.mkdir()
    (folder / "serre.txt").write_bytes(NEW_ARTICLE)
    assert clusterchat("ingest", folder, data_dir=data).returncode == 0
    listed = clusterchat("documents", "--json", data_dir=data)
    (article,) = [d["id"] for d in json.loads(listed.stdout)]
    deleted = clusterchat("delete", article, data_dir=data)
    assert deleted.returncode == 0, deleted.stderr
    again = clusterchat("ingest", folder, data_dir=data)
    assert again.returncode == 0, again.stderr
    assert "added 1, updated 0, unchanged 0" in " ".join(again.stderr.split())
    search = clusterchat("search", "serre idroponiche Ferrara", "--json", data_dir=data)
    assert article in {h["article_id"] for h in json.loads(search.stdout)["hits"]}


@pytest.mark.slow
def test_cli_delete_waits_for_a_build_another_process_runs(
    tmp_path: Path, copy_built: Callable[[Path], Path]
) -> None:
    data = copy_built(tmp_path / "data")
    listed = json.loads(clusterchat("documents", "--json", data_dir=data).stdout)
    target = next(d["id"] for d in listed if d["source"].endswith("nota.txt"))
    with build_lock(data / "index"):  # a server job is building
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
        env["PYTHONPATH"] = str(REPO)
        command = [sys.executable, "-c", "from server.cli import main; main()", "delete", target]
        deleting = subprocess.Popen(
            [*command, "--data-dir", str(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert deleting.poll() is None  # still waiting, not failed
    _out, err = deleting.communicate(timeout=300)
    assert deleting.returncode == 0, err
    assert "Traceback" not in err
    search = clusterchat("search", "nota", "--json", "--k", "20", data_dir=data)
    assert target not in {h["article_id"] for h in json.loads(search.stdout)["hits"]}
    assert len(json.loads(clusterchat("documents", "--json", data_dir=data).stdout)) == 3
