"""Figure 3: search latency in process over the big set."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from index.embedders import Embedder
from index.search import MODES, Mode
from index.store import Retriever
from scripts.bench.common import Plan, cycled, p50_p95, spread
from server.settings import Settings
from server.wiring import searcher_for

logger = logging.getLogger(__name__)


def search_times(searcher: Retriever, questions: Sequence[str], mode: Mode) -> list[float]:
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
