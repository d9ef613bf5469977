"""Event-date filters and near-duplicates through the HTTP API and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.docstore import DocStore
from server.http.app import create_app
from server.pipeline import ingest_paths, update_index
from tests.index.test_index_events_duplicates import CORPUS
from tests.server.conftest import admin_headers, settings_for
from tests.server.test_api import assert_json_error

pytestmark = pytest.mark.slow
CLI = Path(sys.executable).parent / "clusterchat"
QUERY = "fiera convegno soci bando"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, e5, article_writer) -> Path:
    root = tmp_path_factory.mktemp("events-api")
    folder = root / "articoli"
    for name, (title, day, text) in CORPUS.items():
        article_writer(folder, name, title, text, date=day)
    store = DocStore(root / "data" / "clusterchat.sqlite3")
    try:
        ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
        update_index(store, e5, root / "data" / "index")
    finally:
        store.close()
    return root / "data"


@pytest.fixture(scope="module")
def ids(data_dir: Path) -> dict[str, str]:
    store = DocStore(data_dir / "clusterchat.sqlite3")
    try:
        return {Path(a.source).name: a.id for a in store.articles()}
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(data_dir))) as test_client:
        yield test_client


def names(response, ids: dict[str, str]) -> set[str]:
    assert response.status_code == 200, response.text
    by_id = {v: k for k, v in ids.items()}
    return {by_id[h["article_id"]] for h in response.json()["hits"]}


def test_search_filters_by_event_date_or_by_publication_date(client, ids) -> None:
    day = {"since": "2024-05-15", "until": "2024-05-15"}
    event = {"query": QUERY, "k": 20, "filters": {**day, "date_field": "event"}}
    response = client.post("/api/search", json=event)
    assert names(response, ids) == {"fiera-annuncio.txt"}
    assert response.json()["hits"][0]["event_dates"] == ["2024-05-14", "2024-05-15", "2024-05-16"]
    published = {"query": QUERY, "k": 20, "filters": day}
    assert names(client.post("/api/search", json=published), ids) == {"nota.txt"}
    bad = {"query": QUERY, "filters": {**day, "date_field": "evento"}}
    assert "date_field" in assert_json_error(client.post("/api/search", json=bad), 422)


def test_ask_filters_by_event_date(client, ids) -> None:
    question = {
        "question": "Dove si è svolto il convegno?",
        "filters": {"since": "2024-08-30", "until": "2024-08-30", "date_field": "event"},
    }
    answer = client.post("/api/ask", json=question).json()
    cited = {c["article_id"] for c in answer["citations"]}
    assert cited == {ids["convegno.txt"]}


def test_an_answer_cites_the_original_and_lists_the_republication(client, ids) -> None:
    question = {"question": "Quale percentuale delle spese copre il contributo dei voucher 2024?"}
    answer = client.post("/api/ask", json=question).json()
    assert not answer["abstained"], answer
    cited = {c["article_id"]: c for c in answer["citations"]}
    assert ids["bando-mech.txt"] not in cited
    original = cited[ids["bando.txt"]]
    (other,) = original["also_published_by"]
    assert other["id"] == ids["bando-mech.txt"]
    assert other["title"] == "Voucher digitali anche per la meccanica"
    assert other["source"].endswith("bando-mech.txt")
    assert other["date"] == "2024-05-24"
    # The search behind it shows the group once, through its original.
    hits = client.post("/api/search", json={"query": question["question"], "k": 10})
    assert "bando-mech.txt" not in names(hits, ids)
    # The OpenAI-compatible reply names the republication under its source line.
    chat = {"messages": [{"role": "user", "content": question["question"]}]}
    reply = client.post("/v1/chat/completions", json=chat).json()
    content = reply["choices"][0]["message"]["content"]
    assert "Pubblicato anche da: Voucher digitali anche per la meccanica" in content


def test_the_admin_listing_shows_event_dates_and_duplicate_of(client, ids) -> None:
    listed = client.get("/api/documents", headers=admin_headers()).json()["documents"]
    rows = {Path(d["source"]).name: d for d in listed}
    assert rows["bando-mech.txt"]["duplicate_of"] == ids["bando.txt"]
    assert [n for n, d in rows.items() if d["duplicate_of"]] == ["bando-mech.txt"]
    assert rows["convegno.txt"]["event_dates"] == ["2024-08-30"]
    assert rows["nota.txt"]["event_dates"] == []


def cli(*args: str | Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    return subprocess.run(
        [str(CLI), *map(str, args), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_the_cli_shows_duplicate_of_and_takes_date_field(data_dir, ids) -> None:
    listed = cli("documents", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    rows = {Path(r["source"]).name: r for r in json.loads(listed.stdout)}
    assert rows["bando-mech.txt"]["duplicate_of"] == ids["bando.txt"]
    assert {n for n, r in rows.items() if r["duplicate_of"]} == {"bando-mech.txt"}
    found = cli(
        "search",
        QUERY,
        "--since",
        "2024-08-01",
        "--date-field",
        "event",
        "--json",
        data_dir=data_dir,
    )
    assert found.returncode == 0, found.stderr
    assert {h["article_id"] for h in json.loads(found.stdout)["hits"]} == {ids["convegno.txt"]}
    bad = cli("ask", "Dove?", "--date-field", "evento", data_dir=data_dir)
    assert bad.returncode == 2
    assert "--date-field must be one of published, event" in bad.stdout + bad.stderr
