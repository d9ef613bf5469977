"""The real `clusterchat` script, run as a user would, against a temporary data dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
CLI = Path(sys.executable).parent / "clusterchat"
ARTICLE_FILES = ("articolo.html", "nota.txt", "guida.md", "bollettino.pdf", "articoli.jsonl")
HIT_KEYS = {
    "article_id",
    "chunk_id",
    "title",
    "url",
    "date",
    "score",
    "start",
    "end",
    "page",
    "heading",
    "text",
    "event_dates",
}

pytestmark = pytest.mark.slow


def run(*args: str | Path, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(CLI), *map(str, args)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, check=False
    )


def one_line(text: str) -> str:
    """stderr as one line, whatever width the console wrapped it to."""
    return " ".join(text.split())


def squeezed(text: str) -> str:
    """Text without any whitespace: long paths that the console folded are whole again."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def articles(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("articoli")
    for name in ARTICLE_FILES:
        shutil.copy2(DATA / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, articles) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real ingest of the test articles, shared by the module (embedding is slow)."""
    data = tmp_path_factory.mktemp("cli") / "data"
    return data, run("ingest", articles, data_dir=data)


@pytest.fixture
def data_copy(ingested, tmp_path) -> Path:
    """A private copy of the ingested data dir, for tests that change it."""
    copy = tmp_path / "data"
    shutil.copytree(ingested[0], copy)
    return copy


def documents(data: Path) -> list[dict]:
    result = run("documents", "--json", data_dir=data)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ingest_prints_a_summary_and_exits_0(ingested):
    _, result = ingested
    assert result.returncode == 0, result.stderr
    stderr = one_line(result.stderr)
    assert "added 7, updated 0, unchanged 0, removed 0, failed 0" in stderr
    assert "Traceback" not in result.stderr
    assert "embedded" in stderr


def test_second_ingest_changes_nothing(data_copy, articles):
    result = run("ingest", articles, data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    assert "added 0, updated 0, unchanged 7, removed 0, failed 0" in one_line(result.stderr)
    assert "index gen-" not in result.stderr  # nothing changed, so no new generation


def test_documents_lists_ids_and_titles(ingested):
    rows = documents(ingested[0])
    assert len(rows) == 7
    assert {"id", "title", "url", "date", "source", "chunks"} <= set(rows[0])
    by_title = {r["title"]: r for r in rows}
    assert by_title["Test HTML: il forum dell'innovazione"]["date"] == "2024-02-20"
    assert by_title["Guida ai bandi regionali"]["date"] is None
    assert by_title["Il cluster della meccanica presenta il piano 2024"]["id"] == "art-001"
    assert all(r["chunks"] >= 1 for r in rows)
    table = run("documents", data_dir=ingested[0])
    assert table.returncode == 0
    assert "art-001" in table.stdout


def test_search_json_returns_hits_with_the_documented_keys(ingested):
    result = run(
        "search",
        "Quante imprese hanno partecipato al primo incontro a Piacenza?",
        "--json",
        "--k",
        "3",
        data_dir=ingested[0],
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert 1 <= len(hits) <= 3
    assert all(set(h) == HIT_KEYS for h in hits)
    assert hits[0]["title"] == "Nota di prova sul cluster agroalimentare"
    assert "18 imprese" in hits[0]["text"]
    assert hits[0]["url"] == "https://news.clust-er.example/test-txt"


def test_search_filters_and_pdf_pages(ingested):
    result = run(
        "search",
        "dimostrazioni di stampa 3D a Modena",
        "--json",
        "--mode",
        "bm25",
        "--source",
        "bollettino",
        data_dir=ingested[0],
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert {h["title"] for h in hits} == {"Bollettino dei cluster"}
    assert any("stampa 3D" in h["text"] and h["page"] == 2 for h in hits)
    dated = run(
        "search",
        "cluster",
        "--json",
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-31",
        data_dir=ingested[0],
    )
    assert {h["date"] for h in json.loads(dated.stdout)["hits"]} <= {"2024-03-05", "2024-03-12"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--mode", "fuzzy"), "--mode must be one of"),
        (("--since", "ieri"), "--since must be a date"),
        (("--since", "2024-05-01", "--until", "2024-01-01"), "is after until"),
    ],
)
def test_search_rejects_bad_options_with_exit_2(ingested, args, message):
    result = run("search", "cluster", *args, data_dir=ingested[0])
    assert result.returncode == 2
    assert message in one_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_search_without_an_index_says_to_ingest(tmp_path):
    result = run("search", "cluster", data_dir=tmp_path / "vuoto")
    assert result.returncode == 2
    assert "clusterchat ingest" in one_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_delete_removes_an_article(data_copy):
    target = next(r for r in documents(data_copy) if r["title"] == "Guida ai bandi regionali")
    result = run("delete", target["id"], data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    assert f"deleted {target['id']}" in result.stderr
    assert target["id"] not in {r["id"] for r in documents(data_copy)}
    search = run(
        "search", "domande entro il 30 giugno 2024", "--json", "--k", "10", data_dir=data_copy
    )
    assert target["id"] not in {h["article_id"] for h in json.loads(search.stdout)["hits"]}
    again = run("delete", target["id"], data_dir=data_copy)
    assert again.returncode == 2
    assert target["id"] in again.stderr
    assert "Traceback" not in again.stderr


def test_reindex_reuses_cached_vectors(data_copy):
    result = run("reindex", data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    assert " 0 embedded" in one_line(result.stderr)


def test_bad_inputs_are_reported_by_file_and_exit_1(tmp_path, bad_inputs_factory):
    bad = bad_inputs_factory(tmp_path / "bad")
    good = tmp_path / "bad" / "nota.txt"
    shutil.copy2(DATA / "nota.txt", good)
    data = tmp_path / "data"
    result = run("ingest", *bad.values(), good, data_dir=data)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    reasons = {
        "encrypted_pdf": "the PDF is encrypted",
        "image_only_pdf": "no text layer",
        "menu_only_html": "no main article text",
        "bad_utf8": "not valid UTF-8",
        "jsonl_bad_line": "invalid JSON",
        "docx": "unsupported file type",
        "fake_pdf": "the content is not a PDF",
    }
    for key, path in bad.items():
        name = f"{path}:2" if key == "jsonl_bad_line" else str(path)
        assert squeezed(f"failed {name}: {reasons[key]}") in squeezed(result.stderr), key
    assert "failed 7" in one_line(result.stderr)
    assert {r["title"] for r in documents(data)} == {
        "Nota di prova sul cluster agroalimentare",
        "Primo articolo valido",
        "Terzo articolo valido",
    }


def test_failure_lines_are_not_wrapped_when_piped(tmp_path):
    folder = tmp_path / ("una-cartella-con-un-nome-molto-lungo-per-gli-articoli-del-cluster" * 2)
    folder.mkdir()
    path = folder / "relazione.docx"
    path.write_bytes(b"PK")
    result = run("ingest", path, "--no-index", data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert f"failed {path}: unsupported file type '.docx'" in result.stderr


def test_missing_path_exits_2_with_a_clear_message(tmp_path):
    missing = tmp_path / "non-esiste"
    result = run("ingest", DATA / "nota.txt", missing, data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert f"{missing}: no such file or folder" in one_line(result.stderr)
    assert "Traceback" not in result.stderr
    listing = run("documents", "--json", data_dir=tmp_path / "data")
    assert json.loads(listing.stdout) == []  # nothing is ingested when a path is wrong


def _commands() -> list[str]:
    from server.cli import app

    return sorted(
        c.name or c.callback.__name__.removesuffix("_command").replace("_", "-")
        for c in app.registered_commands
    )


def test_help_works_on_every_subcommand():
    commands = _commands()
    assert {"ingest", "documents", "delete", "reindex", "search", "eval", "ask", "serve"} <= set(
        commands
    )
    top = run("--help")
    assert top.returncode == 0
    for command in commands:
        assert command in top.stdout
        result = run(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage:" in result.stdout
        assert "Traceback" not in result.stderr


def test_eval_scores_a_demo_style_question_file(ingested, tmp_path):
    questions = tmp_path / "domande.jsonl"
    records = [
        {
            "id": "t1",
            "question": "Quante imprese hanno partecipato all'incontro di Piacenza?",
            "lang": "it",
            "answerable": True,
            "source": "nota.txt",
            "answers": ["18 imprese"],
            "kind": "number",
        },
        {
            "id": "t2",
            "question": "Chi è il direttore del Centro Ricerche Estensi?",
            "lang": "it",
            "answerable": True,
            "source": "articolo.html",
            "answers": ["Giulio Neri"],
            "kind": "speaker",
        },
        {
            "id": "t3",
            "question": "How many solar plants did Sole Verde install?",
            "lang": "en",
            "answerable": True,
            "source": "articoli.jsonl",
            "answers": ["40"],
            "kind": "number",
        },
        {
            "id": "t4",
            "question": "Chi ha vinto il campionato di calcio?",
            "lang": "it",
            "answerable": False,
            "source": None,
            "answers": [],
            "kind": "unanswerable",
        },
    ]
    questions.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8"
    )
    result = run(
        "eval",
        questions,
        "--json",
        "--mode",
        "hybrid",
        "--mode",
        "bm25",
        "--answers",
        data_dir=ingested[0],
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    scores = payload["retrieval"]
    answers = payload["answers"]
    assert answers["questions"] == 4
    assert answers["answerable"] == 3
    assert answers["abstained_unanswerable"] == 1.0  # nothing about football in the articles
    assert 0.0 <= answers["containment"] <= 1.0
    assert [s["mode"] for s in scores] == ["hybrid", "bm25"]
    for s in scores:
        assert s["questions"] == 3  # the unanswerable one is not scored
        assert {"recall_at_1", "recall_at_5", "recall_at_20", "mrr", "p50_ms", "p95_ms"} <= set(s)
    hybrid = scores[0]
    assert hybrid["recall_at_5"] == 1.0
    assert hybrid["mrr"] >= 2 / 3


def test_eval_rejects_a_bad_question_file(ingested, tmp_path):
    questions = tmp_path / "rotte.jsonl"
    questions.write_text('{"id": "q1", "question": "Chi?"}\n{"id": "q2"}\n', encoding="utf-8")
    result = run("eval", questions, data_dir=ingested[0])
    assert result.returncode == 2
    assert f"{questions}:2" in one_line(result.stderr)
    missing = run("eval", tmp_path / "manca.jsonl", data_dir=ingested[0])
    assert missing.returncode == 2
    assert "no such file" in one_line(missing.stderr)


def test_eval_rejects_an_unknown_field_with_its_line_and_exit_2(ingested, tmp_path):
    questions = tmp_path / "refuso.jsonl"
    questions.write_text(
        '{"id": "q1", "question": "Chi è il direttore?", "source": "articolo.html"}\n'
        '{"id": "q2", "question": "Quante imprese?", "article_id": "abc"}\n',
        encoding="utf-8",
    )
    result = run("eval", questions, data_dir=ingested[0])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{questions}:2" in squeezed(result.stderr)
    assert "unknown field 'article_id'" in one_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_eval_p95_is_never_below_p50(ingested, tmp_path):
    questions = tmp_path / "due.jsonl"
    records = [
        {"question": "Chi è il direttore del Centro Ricerche Estensi?", "source": "articolo.html",
         "answers": ["Giulio Neri"]},
        {"question": "Quante imprese hanno partecipato all'incontro di Piacenza?",
         "source": "nota.txt", "answers": ["18 imprese"]},
    ]  # fmt: skip
    questions.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    result = run("eval", questions, "--json", "--answers", data_dir=ingested[0])
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    for scores in [*payload["retrieval"], payload["answers"]]:
        assert scores["p95_ms"] >= scores["p50_ms"] > 0, scores


def test_ask_prints_the_answer_with_numbered_sources(ingested):
    result = run("ask", "Quante imprese hanno partecipato all'incontro?", data_dir=ingested[0])
    assert result.returncode == 0, result.stderr
    first_sentence = result.stdout.split("[1]", 1)[0]
    assert "18 imprese" in first_sentence  # the best sentence leads the answer
    assert "[1] Nota di prova sul cluster agroalimentare (2024-04-02)" in one_line(result.stdout)
    assert "https://news.clust-er.example/test-txt" in result.stdout


def test_ask_json_has_the_answer_contract(ingested):
    result = run(
        "ask",
        "Chi è il direttore del Centro Ricerche Estensi?",
        "--json",
        "--k",
        "3",
        data_dir=ingested[0],
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"answer", "abstained", "citations", "answerer", "timings_ms"} <= set(answer)
    assert not answer["abstained"]
    assert "Giulio Neri" in answer["answer"]
    citation = answer["citations"][0]
    assert {"n", "article_id", "chunk_id", "title", "url", "date", "quote", "start", "end"} <= set(
        citation
    )
    assert (
        citation["quote"]
        == citation["passage"][
            citation["start"] - citation["passage_start"] : citation["end"]
            - citation["passage_start"]
        ]
    )


def test_ask_abstains_in_english_for_english_questions(ingested):
    result = run("ask", "Who won the 1982 football world cup?", data_dir=ingested[0])
    assert result.returncode == 0, result.stderr
    assert "I could not find this information in the articles." in result.stdout


def test_ask_rejects_an_empty_question_with_exit_2(ingested):
    result = run("ask", "   ", data_dir=ingested[0])
    assert result.returncode == 2
    assert "empty" in result.stderr
    assert "Traceback" not in result.stderr
