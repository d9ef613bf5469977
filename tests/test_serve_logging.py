"""`clusterchat serve` as a real subprocess: what it prints, at which log level."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CLI = Path(sys.executable).parent / "clusterchat"
NOTA = Path(__file__).resolve().parent / "data" / "nota.txt"
QUESTION = "Quante imprese hanno partecipato all'incontro di Piacenza?"

pytestmark = pytest.mark.slow


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    env.update(OMP_WAIT_POLICY="PASSIVE", TOKENIZERS_PARALLELISM="false", **values)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("serve") / "data"
    result = subprocess.run(
        [str(CLI), "ingest", str(NOTA), "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return data


def serve_and_ask(data_dir: Path, log: Path, **env: str) -> str:
    """Start `clusterchat serve`, ask one question, stop it with SIGTERM; its output."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(CLI), "serve", "--data-dir", str(data_dir), "--port", str(port)],
            env=environment(**env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        reply = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
        assert reply.status_code == 200
        assert "18 imprese" in reply.json()["answer"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return log.read_text()


def test_serve_logs_its_address_requests_and_questions_at_the_default_level(data_dir, tmp_path):
    output = serve_and_ask(data_dir, tmp_path / "serve.log")
    lines = output.splitlines()
    assert any(line.startswith("serving at http://127.0.0.1:") for line in lines), output
    assert any(" INFO server.http.app: GET /healthz 200 " in line for line in lines), output
    assert any(" INFO server.http.app: POST /api/ask 200 " in line for line in lines), output
    asked = [line for line in lines if "question answered: k=5 top=" in line]
    assert len(asked) == 1, output
    assert asked[0].endswith(" ms")
    # Never a question or an article body in the log.
    assert "Piacenza" not in output
    assert "18 imprese" not in output
    assert " DEBUG " not in output
    assert "Traceback" not in output


def test_debug_level_shows_debug_lines(data_dir, tmp_path):
    output = serve_and_ask(data_dir, tmp_path / "serve.log", CLUSTERCHAT_LOG_LEVEL="debug")
    assert " DEBUG server.http.app: settings: " in output, output
    assert "log level DEBUG" in output
    assert "POST /api/ask 200" in output
    assert "Piacenza" not in output


def test_warning_level_hides_request_lines(data_dir, tmp_path):
    output = serve_and_ask(data_dir, tmp_path / "serve.log", CLUSTERCHAT_LOG_LEVEL="WARNING")
    assert "serving at http://127.0.0.1:" in output
    assert "POST /api/ask" not in output
    assert "question answered" not in output


def test_a_bad_log_level_or_a_busy_port_stops_serve_in_one_line(data_dir):
    loud = subprocess.run(
        [str(CLI), "serve", "--data-dir", str(data_dir), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(CLUSTERCHAT_LOG_LEVEL="LOUD"),
        check=False,
    )
    assert loud.returncode == 2
    assert loud.stderr.count("\n") == 1, loud.stderr
    assert "CLUSTERCHAT_LOG_LEVEL='LOUD'" in loud.stderr
    assert "DEBUG, INFO, WARNING, ERROR" in loud.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [str(CLI), "serve", "--data-dir", str(data_dir), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment(),
            check=False,
        )
    assert busy.returncode == 2
    assert busy.stderr.count("\n") == 1, busy.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr
