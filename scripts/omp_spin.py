"""Compare OpenMP polling settings for question embedding, in one sitting.

Usage: python -m scripts.omp_spin [--data-dir DIR] [--runs 3] [--spin 0 --spin 10000]

Each run starts a child process per `GOMP_SPINCOUNT` value (alternating, so machine load
hits them alike) that searches the index in DIR (default: the benchmark's 10k-chunk set,
built by `make bench`) and prints one JSON line: hybrid search p50 for one question at a
time, and questions per second with eight threads searching at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from scripts import bench

QUESTIONS = bench.DEFAULT_SQUAD / "questions.jsonl"
BIG = bench.REPO / "bench" / "cache" / "big" / "data"


def child(data_dir: Path, questions: list[str]) -> dict[str, float]:
    """Measure in this process (GOMP_SPINCOUNT is already in the environment)."""
    from server.wiring import embedder_for, searcher_for

    settings = bench.settings_at(data_dir)
    searcher = searcher_for(settings, embedder_for(settings))
    for question in questions[:10]:
        searcher.search(question)
    p50, _ = bench.p50_p95(bench.search_times(searcher, questions[:300], "hybrid"))
    done: list[int] = []

    def worker(first: int) -> None:
        for question in questions[first : first + 40]:
            searcher.search(question, k=5)
            sum(range(20_000))  # a request's own Python work
        done.append(40)

    threads = [threading.Thread(target=worker, args=(i * 40,)) for i in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"p50_ms": p50, "contended_qps": sum(done) / wall}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per run and setting, then the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=BIG)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spin", action="append", help="GOMP_SPINCOUNT values (default 0, 10000)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines[:400]]
        sys.stdout.write(json.dumps(child(args.data_dir, questions)) + "\n")
        return 0
    if not args.questions.is_file():
        sys.stderr.write(f"no such question file: {args.questions}\n")
        return 2
    if not (args.data_dir / "index").exists():
        sys.stderr.write(f"no index in {args.data_dir}: run `make bench` or pass --data-dir\n")
        return 2
    results: dict[str, list[dict[str, float]]] = {}
    for run in range(1, args.runs + 1):
        for spin in args.spin or ["0", "10000"]:
            env = {**os.environ, "GOMP_SPINCOUNT": spin, "OMP_WAIT_POLICY": "PASSIVE"}
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scripts.omp_spin",
                    "--child",
                    "--data-dir",
                    str(args.data_dir),
                    "--questions",
                    str(args.questions),
                ],
                cwd=bench.REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(spin, []).append(figures)
            sys.stdout.write(json.dumps({"run": run, "spin": spin, **figures}) + "\n")
    for spin, runs in results.items():
        summary = {
            "spin": spin,
            "median_p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "median_contended_qps": statistics.median(r["contended_qps"] for r in runs),
        }
        sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
