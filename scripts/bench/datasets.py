"""Figure 2: the cached base and big data folders, and re-ingest of the unchanged base."""

from __future__ import annotations

import json
import logging
import math
import shutil
import sqlite3
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.embedders import Embedder
from index.generations import current_name, text_key
from scripts.bench.common import Plan, mb, settings_at, spread
from scripts.bench.corpus import embed_texts, ingest_run, write_corpus
from server.pipeline import ingest_paths
from server.settings import Settings
from server.wiring import open_store

logger = logging.getLogger(__name__)


def ensure_base(
    plan: Plan, docs: Sequence[dict[str, str]], cache: Path, embedder: Embedder
) -> tuple[Settings, dict[str, Any]]:
    """The base folder (all squad documents + demo), brought up to date incrementally."""
    base = cache / "base"
    chosen = docs if plan.base_docs is None else docs[: plan.base_docs]
    write_corpus(chosen, base / "corpus", plan.demo)
    settings = settings_at(base / "data")
    run = ingest_run(base / "corpus", settings, embedder, "base", prune=True)
    built, took = run.report.index, run.seconds
    store = open_store(settings)
    articles, chunks = store.counts()
    store.close()
    logger.info(
        "base folder: %d articles, %d chunks (%s, %.1f s)",
        articles,
        chunks,
        "reused" if built is None else f"built, {built.embedded} embedded",
        took,
    )
    return settings, {
        "articles": articles,
        "chunks": chunks,
        "reused": built is None,
        "prepare_seconds": took,
        "embedded_now": built.embedded if built else 0,
    }


def bench_reingest(plan: Plan, base: Settings, cache: Path, embedder: Embedder) -> dict[str, Any]:
    """Ingest the unchanged base corpus again: no parsing of known files, no embedding."""
    seconds: list[float] = []
    unchanged = embedded = 0
    for run in range(1, plan.repeats + 1):
        done = ingest_run(cache / "base" / "corpus", base, embedder, f"re-ingest {run}")
        report, took = done.report, done.seconds
        if report.changed or (report.index is not None and report.index.embedded):
            raise RuntimeError(f"re-ingest changed the store or embedded: {report}")
        embedded += report.index.embedded if report.index else 0
        unchanged = report.unchanged
        seconds.append(took)
    per_1000 = statistics.median(seconds) * 1000 / max(unchanged, 1)
    return {
        "articles": unchanged,
        "seconds": spread(seconds),
        "seconds_per_1000_articles": per_1000,
        "embedded": embedded,
    }


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite file (WAL included) with the backup API."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _write_copies(base: Settings, folder: Path, target: int) -> int:
    """JSONL copies of the base squad articles under new ids until `target` chunks; copies."""
    store = open_store(base)
    try:
        total = store.counts()[1]
        rows = [a for a in store.articles() if Path(a.source).parent.name == "squad"]
        per_copy = sum(a.chunks for a in rows)
        copies = max(1, math.ceil((target - total) / max(per_copy, 1)))
        # Text and title as stored, so the chunks and embedded texts are identical.
        records = []
        for info in sorted(rows, key=lambda a: a.source):
            article = store.get(info.id)
            doc_id = Path(info.source).stem
            records.append((doc_id, article))
    finally:
        store.close()
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, copies + 1):
        with (folder / f"copy{n}.jsonl").open("w", encoding="utf-8") as out:
            for doc_id, article in records:
                record = {
                    "id": f"copy{n}-{doc_id}",
                    "title": article.title,
                    "text": article.text,
                    "source": f"copy{n}",
                    "date": article.published.isoformat() if article.published else None,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return copies


def _missing_vectors(settings: Settings, embedder: Embedder) -> int:
    keys = {text_key(t).hex() for t in embed_texts(settings)}
    store = open_store(settings)
    try:
        return len(keys) - len(store.cached_vectors(embedder.name, sorted(keys)))
    finally:
        store.close()


def ensure_big(
    plan: Plan, base: Settings, cache: Path, embedder: Embedder
) -> tuple[Settings, dict[str, Any]]:
    """The latency folder: the base plus copies with new ids, vectors from the cache."""
    big = cache / "big"
    settings = settings_at(big / "data")
    store = open_store(base)
    stamp = {
        "base_revision": store.revision,
        "target": plan.big_chunks,
        "sentences": settings.sentence_vectors,  # a folder built without them is stale
    }
    store.close()
    marker = big / "bench-big.json"
    reused = marker.exists() and json.loads(marker.read_text()) == stamp
    if reused:
        copies = len(list((big / "corpus").glob("copy*.jsonl")))
    else:
        shutil.rmtree(big, ignore_errors=True)
        _copy_sqlite(base.db_path, settings.db_path)
        copies = _write_copies(base, big / "corpus", plan.big_chunks)
        store = open_store(settings)
        ingest_paths(
            [big / "corpus"],
            store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
        )
        store.close()
        missing = _missing_vectors(settings, embedder)
        if missing:
            raise RuntimeError(f"{missing} copied chunk texts are not in the embedding cache")
    # When reused, this only rebuilds an index the code no longer accepts (from the cache).
    done = ingest_run(big / "corpus", settings, embedder, "big")
    report, took = done.report, done.seconds
    if report.changed or (report.index is not None and report.index.embedded):
        raise RuntimeError(f"the big folder must build from the cache alone: {report}")
    if not reused:
        marker.write_text(json.dumps(stamp))
    logger.info("big folder: %s, %.1f s", "reused" if reused else "built", took)
    store = open_store(settings)
    articles, chunks = store.counts()
    store.close()
    return settings, {"articles": articles, "chunks": chunks, "copies": copies, "reused": reused}


def index_size(settings: Settings) -> dict[str, float]:
    """MiB on disk of the current generation folder and of the SQLite file."""
    name = current_name(settings.index_dir)
    folder = settings.index_dir / name if name else None
    generation = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder else 0
    db = settings.db_path
    sqlite = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    return {
        "generation_mb": mb(generation),
        "sqlite_mb": mb(sqlite),
        "total_mb": mb(generation + sqlite),
    }
