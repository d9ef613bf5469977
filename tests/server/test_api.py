"""The HTTP API over a real index: health, search, ask (JSON and SSE), feedback, metrics,
admin documents and jobs, and the error contract (always JSON `detail`, never a 500)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from index.backends.pg_index import current_version
from index.generations import current_name
from server.http.app import create_app
from server.pipeline import ingest_paths
from server.settings import Settings
from server.wiring import open_store

REPO = Path(__file__).resolve().parents[2]
FOLLOWUPS = [json.loads(line) for line in (REPO / "demo" / "followups.jsonl").open()]
RESOCONTO_URL = "https://news.clust-er.example/forum-digitale-2024-resoconto"
MARKER = re.compile(r"\[(\d+)\]")

# -- helpers ---------------------------------------------------------------------------------


def services(client: TestClient) -> Any:
    """The app's services (read-only use: paths and settings)."""
    return client.app.state.services  # type: ignore[attr-defined]


def assert_json_error(response: Response, status: int) -> str:
    """The response is `status` with a JSON body whose `detail` is a non-empty string."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.strip()
    return detail


def assert_citations_hold(answer: dict[str, Any], settings: Settings) -> None:
    """Every quote is its passage's slice and the stored article's slice; markers match."""
    store = open_store(settings)
    try:
        for c in answer["citations"]:
            offset = c["start"] - c["passage_start"]
            assert c["passage"][offset : c["end"] - c["passage_start"]] == c["quote"]
            assert store.get(c["article_id"]).text[c["start"] : c["end"]] == c["quote"]
            assert c["quote"].strip()
    finally:
        store.close()
    numbers = [c["n"] for c in answer["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {int(m) for m in MARKER.findall(answer["answer"])} == set(numbers)


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse an event stream into (event, data) pairs."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def article_ids(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """Source file name -> article id, from the admin listing."""
    documents = client.get("/api/documents", headers=admin).json()["documents"]
    return {Path(d["source"]).name: d["id"] for d in documents}


# -- health -----------------------------------------------------------------------------------


def test_healthz_reports_the_corpus_and_the_serving_generation(api: TestClient) -> None:
    body = api.get("/healthz").json()
    settings = services(api).settings
    store = open_store(settings)
    try:
        documents, chunks = store.counts()
    finally:
        store.close()
    assert body == {
        "status": "ok",
        "documents": documents,
        "chunks": chunks,
        "generation": serving_name(settings),
        "embedder": "e5-int8",
    }
    assert documents == 4
    assert chunks > 4


def test_no_index_means_503_with_a_reason(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(make_settings(tmp_path / "vuoto"))) as client:
        assert "ingest" in assert_json_error(client.get("/healthz"), 503)
        assert_json_error(client.post("/api/search", json={"query": "forum"}), 503)
        assert_json_error(client.post("/api/ask", json={"question": "Chi?"}), 503)
        streamed = client.post("/api/ask", json={"question": "Chi?", "stream": True})
        assert_json_error(streamed, 503)  # fails before the stream starts
        assert_json_error(
            client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Chi?"}]}
            ),
            503,
        )
        assert client.get("/api/examples").json() == {"questions": []}


# -- search -----------------------------------------------------------------------------------

HIT_KEYS = {"article_id", "chunk_id", "title", "url", "date", "text", "score", "start", "end"}


def test_search_returns_passages_that_are_article_slices(api: TestClient) -> None:
    hits = api.post("/api/search", json={"query": "320 partecipanti Forum Digitale"}).json()["hits"]
    assert 1 <= len(hits) <= 5
    assert set(hits[0]) >= HIT_KEYS
    assert hits[0]["url"] == RESOCONTO_URL
    assert hits[0]["date"] == "2024-04-22"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    store = open_store(services(api).settings)
    try:
        for hit in hits:
            assert store.get(hit["article_id"]).text[hit["start"] : hit["end"]] == hit["text"]
    finally:
        store.close()


def test_search_k_caps_the_hits(api: TestClient) -> None:
    assert len(api.post("/api/search", json={"query": "cluster", "k": 1}).json()["hits"]) == 1
    many = api.post("/api/search", json={"query": "cluster", "k": 50}).json()["hits"]
    assert len(many) == api.get("/healthz").json()["chunks"]  # fewer chunks than k


@pytest.mark.parametrize(
    ("filters", "expected_dates"),
    [
        ({"since": "2024-05-01"}, {"2024-06-19"}),
        ({"until": "2024-04-01"}, {"2024-03-20"}),
        ({"since": "2024-04-01", "until": "2024-04-30"}, {"2024-04-02", "2024-04-22"}),
        ({"since": "2024-04-22", "until": "2024-04-22"}, {"2024-04-22"}),
        ({"source": "NOTA.TXT"}, {"2024-04-02"}),  # file path, case-insensitive
        ({"source": "accordo-health"}, {"2024-06-19"}),  # URL substring
        ({"since": "2025-01-01"}, set()),
        ({"source": "nessuna-fonte-simile"}, set()),
    ],
)
def test_search_filters_apply_before_the_cut(
    api: TestClient, filters: dict[str, str], expected_dates: set[str]
) -> None:
    body = {"query": "Forum Digitale Clust-ER partecipanti", "k": 50, "filters": filters}
    hits = api.post("/api/search", json=body).json()["hits"]
    assert {h["date"] for h in hits} == expected_dates


# -- ask --------------------------------------------------------------------------------------


def test_ask_answers_with_verbatim_citations(api: TestClient) -> None:
    response = api.post(
        "/api/ask",
        json={"question": "Quanti partecipanti ha avuto il Forum Digitale Clust-ER 2024?"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["abstained"] is False
    assert "320" in answer["answer"]
    assert answer["citations"]
    assert answer["citations"][0]["url"] == RESOCONTO_URL
    assert answer["answerer"] == "extractive"
    assert answer["language"] == "it"
    assert {"search", "answer", "total"} <= set(answer["timings_ms"])
    assert all(v >= 0 for v in answer["timings_ms"].values())
    assert_citations_hold(answer, services(api).settings)


def test_ask_k_limits_the_citations(api: TestClient) -> None:
    answer = api.post(
        "/api/ask", json={"question": "Chi ha parlato nei panel del Forum Digitale?", "k": 1}
    ).json()
    assert answer["citations"]
    # One passage read: every quoted sentence (one or two) comes from that one chunk.
    assert len({c["chunk_id"] for c in answer["citations"]}) == 1
    assert_citations_hold(answer, services(api).settings)


def test_unanswerable_question_abstains_with_suggestions(api: TestClient) -> None:
    answer = api.post(
        "/api/ask", json={"question": "Chi ha vinto il campionato di calcio di serie A nel 1990?"}
    ).json()
    assert answer["abstained"] is True
    assert answer["citations"] == []
    assert not MARKER.search(answer["answer"])
    assert answer["suggestions"]
    assert {"article_id", "title", "url", "date"} <= set(answer["suggestions"][0])


@pytest.mark.parametrize("case", FOLLOWUPS[:1], ids=lambda c: c["id"])
def test_follow_up_uses_the_history(api: TestClient, case: dict[str, Any]) -> None:
    assert case["source"] == "forum-digitale-2024-resoconto.html"
    answer = api.post(
        "/api/ask", json={"question": case["question"], "history": case["history"]}
    ).json()
    assert answer["abstained"] is False
    cited = {c["url"] for c in answer["citations"]}
    assert RESOCONTO_URL in cited
    assert any(name in answer["answer"] for name in ("Lanzoni", "Benedetti")), answer["answer"]
    assert_citations_hold(answer, services(api).settings)


@pytest.mark.parametrize("how", ["body", "accept"])
def test_ask_streams_citations_tokens_then_done(api: TestClient, how: str) -> None:
    question = "Chi ha parlato nel primo panel del Forum Digitale Clust-ER 2024?"
    if how == "body":
        response = api.post("/api/ask", json={"question": question, "stream": True})
    else:
        response = api.post(
            "/api/ask", json={"question": question}, headers={"Accept": "text/event-stream"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [e for e, _ in events]
    assert kinds[0] == "citations"
    assert kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"token"}
    done = events[-1][1]
    assert "".join(d["text"] for e, d in events if e == "token") == done["answer"]
    assert events[0][1]["citations"] == done["citations"]  # extractive: final from the start
    assert done["abstained"] is False
    assert "Ferretti" in done["answer"]
    assert_citations_hold(done, services(api).settings)
    plain = api.post("/api/ask", json={"question": question}).json()
    assert plain["answer"] == done["answer"]
    assert plain["citations"] == done["citations"]


def test_streamed_abstention_ends_with_suggestions(api: TestClient) -> None:
    response = api.post(
        "/api/ask", json={"question": "Qual è la ricetta dei tortellini?", "stream": True}
    )
    events = sse_events(response.text)
    assert next(e for e, _ in events) == "citations"
    assert events[0][1]["citations"] == []
    done = events[-1]
    assert done[0] == "done"
    assert done[1]["abstained"] is True
    assert done[1]["suggestions"]


# -- feedback and metrics ---------------------------------------------------------------------


def feedback_rows(settings: Settings, feedback_id: int | None = None) -> list[tuple[Any, ...]]:
    """The stored feedback rows (one by id, if given), read with the backend's own driver."""
    sql = "SELECT question, answer, rating, comment FROM feedback"
    if settings.database_url:
        with psycopg.connect(settings.database_url.get_secret_value()) as conn:
            if feedback_id is None:
                return conn.execute(sql).fetchall()
            return conn.execute(sql + " WHERE id=%s", (feedback_id,)).fetchall()
    with sqlite3.connect(settings.db_path) as db:
        if feedback_id is None:
            return db.execute(sql).fetchall()
        return db.execute(sql + " WHERE id=?", (feedback_id,)).fetchall()


def serving_name(settings: Settings) -> str | None:
    """The serving index version's name, as the backend records it."""
    if settings.database_url:
        with psycopg.connect(settings.database_url.get_secret_value()) as conn:
            meta = current_version(conn)
        return None if meta is None else str(meta["name"])
    return current_name(settings.index_dir)


def test_feedback_is_stored(api: TestClient) -> None:
    body = {
        "question": "Quanti partecipanti?",
        "answer": "320 [1]",
        "rating": "down",
        "comment": "manca la fonte",
    }
    response = api.post("/api/feedback", json=body)
    assert response.status_code == 200
    stored_id = response.json()["id"]
    rows = feedback_rows(services(api).settings, stored_id)
    assert rows == [(body["question"], body["answer"], "down", "manca la fonte")]


@pytest.mark.parametrize(
    "body",
    [
        {"question": "q", "answer": "a", "rating": "meh"},
        {"question": "q", "answer": "a", "rating": 5},
        {"question": "q", "answer": "a"},
        {"question": "", "answer": "a", "rating": "up"},
        {"question": "q", "answer": "a", "rating": "up", "extra": 1},
    ],
)
def test_bad_feedback_is_422(api: TestClient, body: dict[str, Any]) -> None:
    before = len(feedback_rows(services(api).settings))
    assert_json_error(api.post("/api/feedback", json=body), 422)
    assert len(feedback_rows(services(api).settings)) == before


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, rest = head.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"no {name} {labels} in metrics")


def test_metrics_count_requests_latency_and_corpus(api: TestClient) -> None:
    api.post("/api/search", json={"query": "forum"})
    api.post("/api/search", json={"query": ""})
    before = _metric(
        api.get("/metrics").text,
        "clusterchat_requests_total",
        route="/api/search",
        method="POST",
        status="200",
    )
    api.post("/api/search", json={"query": "forum"})
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        _metric(
            text, "clusterchat_requests_total", route="/api/search", method="POST", status="200"
        )
        == before + 1
    )
    assert (
        _metric(
            text, "clusterchat_requests_total", route="/api/search", method="POST", status="422"
        )
        >= 1
    )
    assert _metric(text, "clusterchat_request_seconds_count", route="/api/search") >= 3
    assert _metric(text, "clusterchat_request_seconds_bucket", route="/api/search", le="+Inf") >= 3
    health = api.get("/healthz").json()
    assert _metric(text, "clusterchat_documents") == health["documents"]
    assert _metric(text, "clusterchat_chunks") == health["chunks"]
    assert _metric(text, "clusterchat_answerer_fallbacks_total") == 0


def test_metrics_count_llm_fallbacks(
    tmp_path: Path, copy_built: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    # A real LLM endpoint that refuses connections: the answer falls back to extractive.
    settings = make_settings(
        copy_built(tmp_path / "data"),
        llm_base_url="http://127.0.0.1:9/v1",
        llm_retries=0,
        llm_timeout=5,
    )
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/ask", json={"question": "Quanti partecipanti ha avuto il Forum Digitale?"}
        ).json()
        assert answer["answerer"] == "extractive-fallback"
        assert "320" in answer["answer"]
        assert_citations_hold(answer, settings)
        text = client.get("/metrics").text
    assert _metric(text, "clusterchat_answerer_fallbacks_total") == 1
    assert _metric(text, "clusterchat_answers_total", answerer="extractive-fallback") == 1


# -- the error contract -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ask", {"question": ""}),
        ("/api/ask", {"question": "   \n "}),
        ("/api/ask", {"question": "x" * 1001}),  # over max_question_chars (1000)
        ("/api/ask", {"question": "x" * 1001, "stream": True}),
        ("/api/ask", {"question": "x" * 20_000}),
        ("/api/ask", {"question": "Chi?", "k": 0}),
        ("/api/ask", {"question": "Chi?", "k": 51}),
        ("/api/ask", {"question": "Chi?", "k": "tanti"}),
        ("/api/ask", {"question": "Chi?", "history": [{"role": "robot", "content": "x"}]}),
        ("/api/ask", {"question": "Chi?", "history": "ciao"}),
        ("/api/ask", {"question": "Chi?", "filters": {"since": "2024-13-01"}}),
        ("/api/ask", {"domanda": "Chi?"}),
        ("/api/ask", {}),
        ("/api/ask", []),
        ("/api/search", {"query": ""}),
        ("/api/search", {"query": "x" * 1001}),
        ("/api/search", {"query": "forum", "k": 0}),
        ("/api/search", {"query": "forum", "k": 51}),
        ("/api/search", {"query": "forum", "k": -3}),
        ("/api/search", {"query": "forum", "filters": {"since": "ieri"}}),
        ("/api/search", {"query": "forum", "filters": {"until": "2024-02-30"}}),
        # Not read as 1 or as true: JSON types are kept.
        ("/api/ask", {"question": "Chi?", "k": True}),
        ("/api/search", {"query": "forum", "k": False}),
        ("/api/ask", {"question": "Chi?", "stream": "yes"}),
        ("/api/ask", {"question": "Chi?", "stream": 1}),
        # Not read as a Unix timestamp (1970-01-01): a date is YYYY-MM-DD.
        ("/api/search", {"query": "forum", "filters": {"until": "0"}}),
        ("/api/search", {"query": "forum", "filters": {"since": 1714521600}}),
        ("/api/search", {"query": "forum", "filters": {"since": "2024-05-01T00:00:00"}}),
        (
            "/api/search",
            {"query": "forum", "filters": {"since": "2024-05-01", "until": "2024-04-01"}},
        ),
        ("/api/search", {"query": "forum", "filters": {"source": ""}}),
        ("/api/search", {"query": "forum", "filters": {"lingua": "it"}}),
        ("/api/search", {"query": "forum", "mode": "magia"}),
        ("/v1/chat/completions", {"messages": []}),
        ("/v1/chat/completions", {"messages": [{"role": "assistant", "content": "Ciao"}]}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "  "}]}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x" * 1001}]}),
    ],
)
def test_invalid_requests_are_422_json(api: TestClient, path: str, body: Any) -> None:
    assert_json_error(api.post(path, json=body), 422)


@pytest.mark.parametrize(
    "path", ["/api/ask", "/api/search", "/api/feedback", "/v1/chat/completions"]
)
@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"question": "Chi?"'])
def test_malformed_json_is_422(api: TestClient, path: str, raw: bytes) -> None:
    response = api.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert_json_error(response, 422)


def test_unknown_route_and_method_are_json(api: TestClient) -> None:
    assert assert_json_error(api.get("/api/nulla"), 404) == "Not Found"
    assert_json_error(api.post("/nulla/affatto", json={}), 404)
    assert_json_error(api.get("/api/ask"), 405)
    assert_json_error(api.delete("/healthz"), 405)


def test_question_limit_follows_the_setting(
    tmp_path: Path, copy_built: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"), max_question_chars=40)
    with TestClient(create_app(settings)) as client:
        assert (
            client.post("/api/ask", json={"question": "Chi ha aperto il Forum?"}).status_code == 200
        )
        detail = assert_json_error(client.post("/api/ask", json={"question": "y" * 41}), 422)
        assert "40" in detail


# -- reader keys ------------------------------------------------------------------------------


def test_reader_keys_guard_the_read_endpoints(
    tmp_path: Path, copy_built: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"), api_keys=["chiave-lettore"])
    with TestClient(create_app(settings)) as client:
        body = {"query": "forum"}
        assert_json_error(client.post("/api/search", json=body), 401)
        assert_json_error(
            client.post("/api/search", json=body, headers={"Authorization": "Bearer sbagliata"}),
            403,
        )
        ok = client.post(
            "/api/search", json=body, headers={"Authorization": "Bearer chiave-lettore"}
        )
        assert ok.status_code == 200
        assert (
            client.post(
                "/api/search", json=body, headers={"X-API-Key": "chiave-lettore"}
            ).status_code
            == 200
        )
        assert client.get("/healthz").status_code == 200  # health stays open


# -- admin ------------------------------------------------------------------------------------

ADMIN_CALLS = [
    ("GET", "/api/documents"),
    ("DELETE", "/api/documents/qualcosa"),
    ("POST", "/api/reindex"),
    ("GET", "/api/jobs/qualcosa"),
]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Response:
    return client.request(method, path, headers=headers)


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
def test_admin_disabled_without_a_configured_token(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    method: str,
    path: str,
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"), admin_token=None)
    with TestClient(create_app(settings)) as client:
        for headers in ({}, {"Authorization": "Bearer qualunque"}):
            detail = assert_json_error(_call(client, method, path, headers), 403)
            assert "CLUSTERCHAT_ADMIN_TOKEN" in detail
        upload = client.post(
            "/api/documents",
            files={"files": ("a.txt", b"Titolo\n\nTesto.")},
            headers={"Authorization": "Bearer qualunque"},
        )
        assert_json_error(upload, 403)


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
def test_admin_token_is_required_and_checked(api: TestClient, method: str, path: str) -> None:
    missing = _call(api, method, path, {})
    assert_json_error(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_json_error(_call(api, method, path, {"Authorization": "Basic dXRlbnRlOnB3"}), 401)
    assert_json_error(_call(api, method, path, {"Authorization": "Bearer sbagliato"}), 403)


def test_documents_are_listed(api: TestClient, admin: dict[str, str]) -> None:
    response = api.get("/api/documents", headers=admin)
    assert response.status_code == 200
    documents = response.json()["documents"]
    assert len(documents) == 4
    assert {"id", "title", "url", "date", "source", "chunks"} <= set(documents[0])
    assert sum(d["chunks"] for d in documents) == api.get("/healthz").json()["chunks"]
    by_url = {d["url"]: d for d in documents}
    assert by_url[RESOCONTO_URL]["date"] == "2024-04-22"
    assert by_url[RESOCONTO_URL]["title"].startswith("Forum Digitale Clust-ER 2024")


def test_unknown_document_and_job_are_404(api: TestClient, admin: dict[str, str]) -> None:
    assert "nessuno" in assert_json_error(api.delete("/api/documents/nessuno", headers=admin), 404)
    assert_json_error(api.get("/api/jobs/nessuno", headers=admin), 404)


def test_deleting_a_document_removes_it_from_answers(
    tmp_path: Path,
    built_settings: Callable[[Path], Settings],
    admin: dict[str, str],
    job_waiter: Callable[..., dict],
) -> None:
    with TestClient(create_app(built_settings(tmp_path / "data"))) as client:
        before = client.get("/healthz").json()
        target = article_ids(client, admin)["forum-digitale-2024-resoconto.html"]
        response = client.delete(f"/api/documents/{target}", headers=admin)
        assert response.status_code == 200
        assert response.json()["deleted"] == target
        job = job_waiter(client, response.json()["job_id"])
        assert job["state"] == "done"
        assert job["kind"] == "update"
        assert job["counts"]["embedded"] == 0  # the rest was cached
        after = client.get("/healthz").json()
        assert after["documents"] == before["documents"] - 1
        assert after["generation"] != before["generation"]
        hits = client.post("/api/search", json={"query": "320 partecipanti", "k": 50}).json()
        assert target not in {h["article_id"] for h in hits["hits"]}
        assert target not in article_ids(client, admin).values()
        assert_json_error(client.delete(f"/api/documents/{target}", headers=admin), 404)


NEW_ARTICLE = (
    "---\ntitle: Il consorzio Alfa Verde inaugura le serre idroponiche di Ferrara\n"
    "date: 2024-08-30\nurl: https://news.clust-er.example/serre-ferrara\n---\n\n"
    "Il consorzio Alfa Verde ha inaugurato a Ferrara 47 serre idroponiche alimentate da "
    "pannelli solari. Il progetto è coordinato dalla dott.ssa Ilaria Mazzanti.\n"
)


def test_uploaded_article_becomes_answerable(
    tmp_path: Path,
    built_settings: Callable[[Path], Settings],
    admin: dict[str, str],
    job_waiter: Callable[..., dict],
) -> None:
    settings = built_settings(tmp_path / "data")
    question = {"question": "Quante serre idroponiche ha inaugurato il consorzio Alfa Verde?"}
    with TestClient(create_app(settings)) as client:
        before = client.post("/api/ask", json=question).json()
        assert "47" not in before["answer"]
        response = client.post(
            "/api/documents",
            headers=admin,
            files=[("files", ("serre ferrara.txt", NEW_ARTICLE.encode(), "text/plain"))],
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["added"] == 1
        assert body["failed"] == []
        assert body["job_id"]
        job = job_waiter(client, body["job_id"])
        assert job["state"] == "done", job
        assert job["done"] == job["total"] > 0
        assert job["counts"]["embedded"] >= 1
        assert client.get("/healthz").json()["documents"] == 5
        answer = client.post("/api/ask", json=question).json()
        assert answer["abstained"] is False
        assert "47" in answer["answer"]
        assert answer["citations"][0]["url"] == "https://news.clust-er.example/serre-ferrara"
        assert_citations_hold(answer, settings)
        assert (settings.uploads_dir / "serre_ferrara.txt").is_file()
        again = client.post(
            "/api/documents",
            headers=admin,
            files=[("files", ("serre ferrara.txt", NEW_ARTICLE.encode()))],
        ).json()
        assert again["added"] == 0
        assert again["unchanged"] == 1
        assert again["job_id"] is None


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("programma.exe", b"MZ\x90\x00\x03\x00\x00\x00", 415),
        ("relazione.docx", b"PK\x03\x04" + b"\x00" * 32, 415),
        ("finto.pdf", b"Questo file si chiama .pdf ma contiene solo testo.\n", 415),
        ("vero.txt", b"%PDF-1.7\n%binary", 415),
        ("binario.txt", b"Titolo\x00\x01\x02", 415),
        ("grande.txt", b"Titolo lungo\n\n" + b"parola " * 400, 413),
    ],
)
def test_bad_uploads_are_refused(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
    name: str,
    content: bytes,
    status: int,
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"), upload_max_bytes=2000)
    with TestClient(create_app(settings)) as client:
        before = client.get("/api/documents", headers=admin).json()
        response = client.post("/api/documents", headers=admin, files=[("files", (name, content))])
        assert_json_error(response, status)
        assert client.get("/api/documents", headers=admin).json() == before


def test_upload_that_parses_to_nothing_is_422(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    with TestClient(create_app(make_settings(copy_built(tmp_path / "data")))) as client:
        response = client.post(
            "/api/documents", headers=admin, files=[("files", ("vuoto.txt", b"   \n\n  "))]
        )
        assert "vuoto.txt" in assert_json_error(response, 422)
        assert_json_error(client.post("/api/documents", headers=admin), 422)  # no files


def _add_uncached_articles(settings: Settings, folder: Path, count: int) -> None:
    """Store new articles directly (no index update), so a re-index must embed them."""
    folder.mkdir()
    for i in range(count):
        (folder / f"extra-{i}.txt").write_text(
            f"---\ntitle: Notizia aggiuntiva numero {i}\ndate: 2024-09-0{i + 1}\n---\n\n"
            + f"Il laboratorio {i} ha ricevuto {100 + i} visitatori durante la giornata aperta. "
            * 12,
            encoding="utf-8",
        )
    store = open_store(settings)
    try:
        report = ingest_paths(
            [folder], store, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap
        )
        assert report.added == count
    finally:
        store.close()


def test_reindex_runs_one_job_at_a_time(
    tmp_path: Path,
    built_settings: Callable[[Path], Settings],
    admin: dict[str, str],
    job_waiter: Callable[..., dict],
) -> None:
    settings = built_settings(tmp_path / "data")
    _add_uncached_articles(settings, tmp_path / "extra", 2)  # the job has text to embed
    with TestClient(create_app(settings)) as client:
        old = client.get("/healthz").json()
        first = client.post("/api/reindex", headers=admin)
        assert first.status_code == 200
        job_id = first.json()["job_id"]
        assert "already running" in assert_json_error(
            client.post("/api/reindex", headers=admin), 409
        )
        progress = client.get(f"/api/jobs/{job_id}", headers=admin).json()
        assert progress["id"] == job_id
        assert progress["kind"] == "reindex"
        assert progress["state"] in ("queued", "running")
        assert 0 <= progress["done"] <= progress["total"]
        job = job_waiter(client, job_id)
        assert job["state"] == "done"
        assert job["errors"] == []
        # Two chunks, and each one's sentence (repeated within its article, embedded once).
        assert job["counts"]["embedded"] == 4
        assert job["done"] == job["total"]
        new = client.get("/healthz").json()
        assert new["generation"] == job["counts"]["generation"] != old["generation"]
        assert new["documents"] == old["documents"] + 2
        # With nothing new, a second re-index is allowed and embeds nothing.
        again = job_waiter(client, client.post("/api/reindex", headers=admin).json()["job_id"])
        assert again["state"] == "done"
        assert again["counts"]["embedded"] == 0


@pytest.mark.parametrize("path", ["/api/ask", "/api/search", "/v1/chat/completions"])
def test_non_utf8_body_is_422(api: TestClient, path: str) -> None:
    response = api.post(path, content=b")\xff", headers={"Content-Type": "application/json"})
    assert_json_error(response, 422)


def test_api_docs_are_served_from_local_files(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert "/docs-static/swagger-ui-bundle.js" in page.text
    assert "/openapi.json" in page.text
    assert "cdn." not in page.text  # works offline
    assert "https://" not in page.text
    script = api.get("/docs-static/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert api.get("/docs-static/swagger-ui.css").status_code == 200
    assert api.get("/openapi.json").json()["info"]["title"] == "ClusterChat"
