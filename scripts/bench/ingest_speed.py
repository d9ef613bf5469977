"""Figure 1: a fresh ingest end to end against the embedder alone on the same texts."""

from __future__ import annotations

import logging
import shutil
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.embedders import Embedder
from scripts.bench.common import BATCH, Plan, settings_at, spread
from scripts.bench.corpus import IngestRun, embed_texts, ingest_run, write_corpus

logger = logging.getLogger(__name__)


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
