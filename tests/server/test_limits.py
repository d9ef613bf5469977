"""Request limits (docs/limits.md): every row of the table is the setting's default, and the
server accepts a request at the limit and refuses one over it, with a JSON 4xx, never a 5xx,
before doing any work. A busy server stops promptly on SIGTERM."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from server.answer.answerer import FOLLOWUP_CONTEXT_CHARS, Turn, previous_question
from server.http.app import create_app
from server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
LIMITS_DOC = REPO / "docs" / "limits.md"
QUESTION = "Quanti partecipanti ha avuto il Forum Digitale Clust-ER 2024?"
FOLLOW_UP = "E chi ha parlato nel secondo panel?"
# Row of docs/limits.md -> the Settings field that holds it (None: a constant of the code).
ROWS = {
    "maximum question": "max_question_chars",
    "history turns": "max_history_turns",
    "turn size": "max_turn_chars",
    "messages": "max_messages",
    "request body": "max_request_bytes",
    "upload": "upload_max_bytes",
    "request cost": None,
}


def limits_table() -> dict[str, tuple[str, int, str]]:
    """Row name -> (setting, default number, status when over) from docs/limits.md."""
    rows = {}
    for line in LIMITS_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("limit", "---"):
            continue
        number = re.search(r"\d+", cells[2])
        assert number, line
        rows[cells[0]] = (cells[1].strip("`"), int(number.group()), cells[3])
    return rows


TABLE = limits_table()
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]


def limit(row: str) -> int:
    """The number the table gives for `row`."""
    return TABLE[row][1]


def over_status(row: str) -> int:
    return int(TABLE[row][2])


def test_the_table_lists_every_limit_with_its_setting_and_default() -> None:
    assert set(TABLE) == set(ROWS)
    for row, field in ROWS.items():
        setting, number, _ = TABLE[row]
        if field is None:
            assert setting == "—"
            assert number == FOLLOWUP_CONTEXT_CHARS
        else:
            assert setting == f"CLUSTERCHAT_{field.upper()}"
            assert number == getattr(DEFAULTS, field), row
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for setting, number, _ in TABLE.values():
        if setting != "—":
            assert re.search(rf"\| `{setting}` \| `{number}` \|", readme), setting


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
) -> Iterator[TestClient]:
    """The default limits over a copy of the index (admin API on)."""
    with TestClient(create_app(make_settings(copy_built(tmp_path_factory.mktemp("l") / "d")))) as c:
        yield c


def json_error(response: httpx.Response, status: int) -> str:
    """`response` is a JSON error with `status` and a non-empty `detail`."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.strip()
    return detail


def openai_error(response: httpx.Response, status: int) -> str:
    """Under /v1/: the JSON error also in OpenAI's shape."""
    detail = json_error(response, status)
    assert response.json()["error"]["message"] == detail
    return detail


def padded(text: str, size: int) -> str:
    """`text` repeated to exactly `size` characters."""
    return (text * (size // len(text) + 1))[:size]


def turns(count: int, size: int = 20) -> list[dict[str, str]]:
    """`count` alternating user/assistant turns of `size` characters."""
    roles = ("user", "assistant")
    return [
        {"role": roles[i % 2], "content": padded("Il Forum Digitale. ", size)} for i in range(count)
    ]


def chat(count: int, size: int = 20) -> list[dict[str, str]]:
    """A chat of `count` messages: `count - 1` earlier turns, then the question."""
    earlier = [
        {"role": "user" if i % 2 else "assistant", "content": padded("Il forum. ", size)}
        for i in range(count - 1)
    ][::-1]
    return [*earlier, {"role": "user", "content": QUESTION}]


# -- the requests ---------------------------------------------------------------------


def test_a_megabyte_chat_message_is_refused_at_once(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": "parola " * 150_000},  # about 1 MB
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "E chi?"},
    ]
    started = time.monotonic()
    response = client.post(
        "/v1/chat/completions", json={"model": "clusterchat", "messages": messages}
    )
    assert time.monotonic() - started < 5
    assert "too large" in openai_error(response, over_status("request body"))


def test_a_long_earlier_turn_on_ask_is_refused(client: TestClient) -> None:
    history = [{"role": "user", "content": padded("Chi ha parlato al Forum? ", 14_000)}]
    response = client.post("/api/ask", json={"question": FOLLOW_UP, "history": history})
    detail = json_error(response, over_status("turn size"))
    assert "history[0]" in detail
    assert str(limit("turn size")) in detail


def test_the_openai_client_reports_the_limit(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    thread_server: Callable[..., Any],
) -> None:
    """Over real HTTP the client reads the 413, not a reset connection."""
    app = create_app(make_settings(copy_built(tmp_path / "data")))
    with (
        thread_server(app) as server,
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=30) as oa,
    ):
        big = [{"role": "user", "content": "parola " * 150_000}]
        with pytest.raises(openai.APIStatusError) as raised:
            oa.chat.completions.create(model="clusterchat", messages=[*big, *chat(2)])  # type: ignore[list-item]
        assert raised.value.status_code == 413
        assert "too large" in str(raised.value)
        long_turn = [{"role": "assistant", "content": "x" * (limit("turn size") + 1)}]
        with pytest.raises(openai.UnprocessableEntityError) as raised:
            oa.chat.completions.create(model="clusterchat", messages=[*long_turn, *chat(1)])  # type: ignore[list-item]
        assert "messages[0]" in str(raised.value)
        # The server still answers.
        done = oa.chat.completions.create(model="clusterchat", messages=chat(1))  # type: ignore[arg-type]
        assert "320" in (done.choices[0].message.content or "")


# -- each row: at the limit accepted, over it refused ------------------------------------------


def test_maximum_question(client: TestClient) -> None:
    most = limit("maximum question")
    at, over = padded(QUESTION + " ", most), padded(QUESTION + " ", most + 1)
    assert client.post("/api/ask", json={"question": at}).status_code == 200
    assert client.post("/api/search", json={"query": at}).status_code == 200
    assert str(most) in json_error(client.post("/api/ask", json={"question": over}), 422)
    assert str(most) in json_error(client.post("/api/search", json={"query": over}), 422)
    response = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": over}]}
    )
    assert str(most) in openai_error(response, over_status("maximum question"))


def test_history_turns(client: TestClient) -> None:
    most = limit("history turns")
    ok = client.post("/api/ask", json={"question": FOLLOW_UP, "history": turns(most)})
    assert ok.status_code == 200, ok.text
    over = client.post("/api/ask", json={"question": FOLLOW_UP, "history": turns(most + 1)})
    detail = json_error(over, over_status("history turns"))
    assert f"history has {most + 1} entries; the limit is {most}" == detail


def test_turn_size(client: TestClient) -> None:
    most = limit("turn size")
    for path, body in [
        ("/api/ask", lambda size: {"question": FOLLOW_UP, "history": turns(2, size)}),
        ("/v1/chat/completions", lambda size: {"messages": chat(3, size)}),
    ]:
        assert client.post(path, json=body(most)).status_code == 200, path
        detail = json_error(client.post(path, json=body(most + 1)), over_status("turn size"))
        assert f"is too long ({most + 1} characters; the limit is {most})" in detail


def test_messages(client: TestClient) -> None:
    most = limit("messages")
    assert client.post("/v1/chat/completions", json={"messages": chat(most)}).status_code == 200
    over = client.post("/v1/chat/completions", json={"messages": chat(most + 1)})
    detail = openai_error(over, over_status("messages"))
    assert detail == f"messages has {most + 1} entries; the limit is {most}"


@pytest.mark.parametrize(
    "path", ["/api/ask", "/api/search", "/api/feedback", "/v1/chat/completions"]
)
def test_request_body(client: TestClient, path: str) -> None:
    most = limit("request body")
    body = {
        "/api/ask": {"question": QUESTION},
        "/api/search": {"query": QUESTION},
        "/api/feedback": {"question": QUESTION, "answer": "320", "rating": "up"},
        "/v1/chat/completions": {"messages": chat(1)},
    }[path]
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    at = raw + b" " * (most - len(raw))  # JSON allows trailing whitespace
    assert client.post(path, content=at, headers=headers).status_code == 200
    over = client.post(path, content=at + b" ", headers=headers)
    assert str(most) in json_error(over, over_status("request body"))

    def chunked() -> Iterator[bytes]:  # no Content-Length: the size is counted as it comes
        yield at
        yield b" "

    assert json_error(client.post(path, content=chunked(), headers=headers), 413)


def test_upload(client: TestClient, admin: dict[str, str]) -> None:
    most = limit("upload")
    content = b"Titolo\n\n" + b"parola " * (most // 7 + 1)
    assert len(content) > most
    response = client.post("/api/documents", headers=admin, files=[("files", ("big.txt", content))])
    json_error(response, over_status("upload"))


def test_request_cost(
    tmp_path: Path, copy_built: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    """A follow-up reads only the start of the last user question: a 60,000-character earlier
    turn (allowed here) answers as its first 300 characters do, and as fast."""
    settings = make_settings(
        copy_built(tmp_path / "data"), max_turn_chars=100_000, max_request_bytes=1_000_000
    )
    first = "Chi ha parlato nel primo panel del Forum Digitale Clust-ER 2024? "
    long_turn = padded(first, 60_000)
    cut = previous_question([Turn("user", long_turn)])
    assert cut is not None
    assert limit("request cost") - len(first) < len(cut) <= limit("request cost")
    with TestClient(create_app(settings)) as client:
        answers = []
        for content in (cut, long_turn):
            history = [{"role": "user", "content": content}, {"role": "assistant", "content": "ok"}]
            started = time.monotonic()
            response = client.post("/api/ask", json={"question": FOLLOW_UP, "history": history})
            assert time.monotonic() - started < 10  # it took 40 s when the turn was embedded
            assert response.status_code == 200
            answers.append({k: v for k, v in response.json().items() if k != "timings_ms"})
        assert answers[0] == answers[1]
        assert "Lanzoni" in answers[1]["answer"]


# -- SIGTERM ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_stops_a_busy_server_promptly(
    tmp_path: Path, copy_built: Callable[[Path], Path], serve_process: Callable[..., Any]
) -> None:
    # Limits raised so that one request keeps a worker thread embedding for minutes.
    env = {
        "CLUSTERCHAT_MAX_QUESTION_CHARS": "2000000",
        "CLUSTERCHAT_MAX_REQUEST_BYTES": "4000000",
        "CLUSTERCHAT_QUERY_CACHE": "0",
    }
    server = serve_process(copy_built(tmp_path / "data"), env=env)
    outcome: list[object] = []

    def busy() -> None:
        try:
            big = [{"role": "user", "content": "parola " * 150_000}]
            outcome.append(
                httpx.post(f"{server.url}/v1/chat/completions", json={"messages": big}, timeout=300)
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    time.sleep(3)  # the search is running in the threadpool
    assert not outcome, outcome
    health = httpx.get(f"{server.url}/healthz", timeout=10)
    assert health.status_code == 200  # the event loop is free while the thread works
    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(15)
    server.proc.wait(timeout=30)
    assert time.monotonic() - started < 10, "SIGTERM took too long"
    thread.join(timeout=10)
    assert outcome  # the client got an answer or a closed connection, not a hang
