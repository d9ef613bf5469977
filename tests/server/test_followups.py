"""Follow-up questions over the whole demo corpus, through the HTTP API: the new question's
terms decide the passage, the conversation only which articles it is about."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index.docstore import DocStore
from index.embedder import E5Embedder
from server.http.app import create_app
from server.pipeline import ingest_paths, update_index
from server.settings import Settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PANEL = "Chi ha parlato al panel sul valore condiviso?"
WHEN = "E quando si è svolta la conferenza?"
ECC_URL = "https://news.clust-er.example/ecc-2024-bruxelles"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, e5: E5Embedder) -> Iterator[TestClient]:
    """The API over the 14 demo articles."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo") / "data", _env_file=None)  # type: ignore[call-arg]
    store = DocStore(settings.db_path)
    try:
        report = ingest_paths(
            [REPO / "demo" / "corpus"],
            store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
        )
        assert not report.failed
        update_index(store, e5, settings.index_dir)
    finally:
        store.close()
    with TestClient(create_app(settings)) as client:
        yield client


def ask(client: TestClient, question: str, history: list[dict[str, str]] = []) -> dict[str, Any]:  # noqa: B006
    response = client.post("/api/ask", json={"question": question, "history": history})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_follow_up_asks_for_the_date_not_the_panel_again(demo: TestClient) -> None:
    first = ask(demo, PANEL)
    assert "Bracci" in first["answer"]
    history = [
        {"role": "user", "content": PANEL},
        {"role": "assistant", "content": first["answer"]},
    ]
    answer = ask(demo, WHEN, history)
    assert not answer["abstained"]
    lead = answer["citations"][0]
    assert "7 e 8 marzo" in lead["quote"]  # the date leads the answer
    assert lead["url"] == ECC_URL
    # The date leads the answer text too: it comes before anything else the answer says.
    assert answer["answer"].index("7 e 8 marzo") < 60
    assert "Bracci" not in answer["answer"]


def test_the_same_follow_up_through_the_openai_endpoint(demo: TestClient) -> None:
    first = ask(demo, PANEL)
    messages = [
        {"role": "user", "content": PANEL},
        {"role": "assistant", "content": first["answer"]},
        {"role": "user", "content": WHEN},
    ]
    response = demo.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "7 e 8 marzo" in body["citations"][0]["quote"]


# Follow-ups whose earlier question names something else than the new one asks for.
FOLLOW_UPS = [
    (
        "Chi ha parlato nel primo panel del Forum Digitale Clust-ER 2024?",
        "E quanti partecipanti c'erano?",
        "320",
    ),
    (
        "Chi ha aperto ufficialmente la European Cluster Conference 2024?",
        "E quanti partecipanti ha riunito?",
        "700",
    ),
    (
        "Con quali cluster europei ha firmato un accordo Clust-ER Health?",
        "E quando è stato firmato?",
        "18 giugno 2024",
    ),
    (
        "Con quanti fondi Horizon Europe finanzia il progetto REMAKE?",
        "E dove verranno realizzate le linee pilota?",
        "Reggio Emilia",
    ),
]


@pytest.mark.parametrize(("previous", "question", "expected"), FOLLOW_UPS)
def test_follow_ups_answer_the_new_question(
    demo: TestClient, previous: str, question: str, expected: str
) -> None:
    first = ask(demo, previous)
    history = [
        {"role": "user", "content": previous},
        {"role": "assistant", "content": first["answer"]},
    ]
    answer = ask(demo, question, history)
    assert expected in answer["answer"], answer["answer"]
