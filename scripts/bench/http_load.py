"""Figure 4: `/api/ask` latency, throughput and memory against `clusterchat serve`."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from scripts.bench.common import NO_QUERY_CACHE, REPO, Plan, cycled, p50_p95, serve_command, spread
from server.settings import Settings

logger = logging.getLogger(__name__)


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
