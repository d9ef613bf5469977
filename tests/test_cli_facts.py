"""`clusterchat facts`, the facts fields of `documents --json`, and `reindex` recomputing facts."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index.docstore import DocStore
from ingest.facts.extract import EXTRACTOR_VERSION, extract_facts
from ingest.facts.types import Facts
from server.extraction import facts_document
from tests.facts_samples import SAMPLE_VERSION, sample_facts

DATA = Path(__file__).resolve().parent / "data"
CLI = Path(sys.executable).parent / "clusterchat"
ARTICLE_FILES = ("articolo.html", "nota.txt", "guida.md", "bollettino.pdf", "articoli.jsonl")
NOTE = "Nota di prova sul cluster agroalimentare"

pytestmark = pytest.mark.slow


def run(*args: str | Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [str(CLI), *map(str, args), "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """The test articles stored (no index: facts are stored at ingest)."""
    folder = tmp_path_factory.mktemp("articoli")
    for name in ARTICLE_FILES:
        shutil.copy2(DATA / name, folder / name)
    data = tmp_path_factory.mktemp("cli-facts") / "data"
    result = run("ingest", folder, "--no-index", data_dir=data)
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def data_copy(stored, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(stored, copy)
    return copy


def open_store(data: Path) -> DocStore:
    return DocStore(data / "clusterchat.sqlite3")


def id_of(data: Path, title: str) -> str:
    store = open_store(data)
    try:
        return next(a.id for a in store.articles() if a.title == title)
    finally:
        store.close()


def test_facts_json_is_what_the_extractor_finds_for_every_article(stored):
    store = open_store(stored)
    try:
        articles = [store.get(a.id) for a in store.articles()]
    finally:
        store.close()
    assert len(articles) == 7
    for article in articles:
        result = run("facts", article.id, "--json", data_dir=stored)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == facts_document(article, extract_facts(article))


def test_facts_text_shows_events_sessions_people_roles_and_quotes(data_copy):
    store = open_store(data_copy)
    try:
        article = store.get(id_of(data_copy, NOTE))
        facts = sample_facts(article)
        assert store.put_facts(facts)
    finally:
        store.close()
    result = run("facts", article.id, data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    first = " ".join(article.text[facts.sessions[0].start : facts.sessions[0].end].split())
    for expected in (
        f"{NOTE} (2024-04-02) {article.id}",
        "Events:",
        "Forum di prova [III edizione, Bologna]: 2024-05-09, 2024-05-10 (9 e 10 maggio)",
        "Sessions:",
        "s1 panel: Il valore condiviso (Forum di prova)",
        "People:",
        "Nicolò D\u2019Angelo (presidente, Clust-ER Agrifood)",
        f"moderator in s1 Il valore condiviso: \u201c{first}\u201d",
        "award_winner in s2 Premi 2024",
    ):
        assert expected in text, (expected, text)
    as_json = json.loads(run("facts", article.id, "--json", data_dir=data_copy).stdout)
    assert as_json == facts_document(article, facts)


def test_facts_text_says_when_nothing_was_found(data_copy):
    article_id = id_of(data_copy, NOTE)
    store = open_store(data_copy)
    try:
        assert store.put_facts(Facts(article_id=article_id, version="vuoto"))
    finally:
        store.close()
    result = run("facts", article_id, data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    assert "No events found." in result.stdout
    assert "No people found." in result.stdout


def test_facts_of_an_unknown_id_is_one_line_and_exit_2(stored):
    result = run("facts", "nessuno", data_dir=stored)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no article with id 'nessuno'"
    assert result.stdout == ""


def test_documents_json_has_section_and_event_dates(data_copy):
    article_id = id_of(data_copy, NOTE)
    store = open_store(data_copy)
    try:
        assert store.put_facts(sample_facts(store.get(article_id)))
    finally:
        store.close()
    result = run("documents", "--json", data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert rows[article_id]["section"] == "Eventi"
    assert rows[article_id]["event_dates"] == ["2024-05-09", "2024-05-10"]
    store = open_store(data_copy)
    try:
        for other, row in rows.items():
            if other == article_id:
                continue
            facts = extract_facts(store.get(other))
            assert row["section"] == facts.section
            assert row["event_dates"] == [d.isoformat() for d in facts.event_dates()]
    finally:
        store.close()


def test_reindex_recomputes_facts_of_another_version_and_of_an_old_store(data_copy):
    store = open_store(data_copy)
    try:
        ids = sorted(a.id for a in store.articles())
        for article_id in ids[:3]:
            assert store.put_facts(sample_facts(store.get(article_id)))
    finally:
        store.close()
    with sqlite3.connect(data_copy / "clusterchat.sqlite3") as db:
        # The other four articles have no facts at all, as in a store from before facts.
        db.execute("DELETE FROM facts WHERE version <> ?", (SAMPLE_VERSION,))
    result = run("reindex", data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    store = open_store(data_copy)
    try:
        assert store.stale_facts(EXTRACTOR_VERSION) == []
        stored = store.facts(ids)
        assert {f.version for f in stored.values()} == {EXTRACTOR_VERSION}
        assert all(stored[i] == extract_facts(store.get(i)) for i in ids)
    finally:
        store.close()
