"""Figure 6: a pyinstrument profile of in-process questions."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.embedders import Embedder
from scripts.bench.common import Plan, cycled
from server.answer import qa
from server.settings import Settings
from server.wiring import extractive_for, searcher_for


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
