"""The facts API over a real index: one article's facts, people by name, access, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.docstore import DocStore
from index.facts_store import fold
from ingest.facts.extract import EXTRACTOR_VERSION, extract_facts
from server.http.app import create_app
from server.settings import Settings
from tests.facts_samples import sample_facts

TOP_KEYS = ["article_id", "title", "published", "events", "sessions", "people"]
EVENT_KEYS = ["name", "edition", "place", "dates", "dates_as_written", "quote", "start", "end"]
SESSION_KEYS = ["id", "title", "kind", "event", "quote", "start", "end"]
PERSON_KEYS = ["name", "organisation", "job_title", "roles"]
ROLE_KEYS = ["role", "session", "quote", "start", "end"]


def store_of(client: TestClient) -> DocStore:
    store: DocStore = client.app.state.services.store  # type: ignore[attr-defined]
    return store


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
) -> Iterator[TestClient]:
    """The app over a private copy; the Forum Digitale report gets hand-built facts."""
    data = copy_built(tmp_path_factory.mktemp("facts") / "data")
    with TestClient(create_app(make_settings(data))) as test_client:
        store = store_of(test_client)
        report = next(a for a in store.articles() if a.title.startswith("Forum Digitale"))
        assert store.put_facts(sample_facts(store.get(report.id)))
        yield test_client


def sample_id(client: TestClient) -> str:
    store = store_of(client)
    return next(a.id for a in store.articles() if a.title.startswith("Forum Digitale"))


def test_every_article_returns_the_contract_with_verbatim_quotes(client):
    store = store_of(client)
    for info in store.articles():
        response = client.get(f"/api/articles/{info.id}/facts")
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == TOP_KEYS
        article = store.get(info.id)
        assert (body["article_id"], body["title"]) == (article.id, article.title)
        assert body["published"] == (article.published.isoformat() if article.published else None)
        for item in body["events"] + body["sessions"]:
            assert item["quote"] == article.text[item["start"] : item["end"]]
        for person in body["people"]:
            assert list(person) == PERSON_KEYS
            for role in person["roles"]:
                assert list(role) == ROLE_KEYS
                assert role["quote"] == article.text[role["start"] : role["end"]]


def test_articles_show_what_the_extractor_finds(client):
    store = store_of(client)
    for info in store.articles():
        if info.id == sample_id(client):
            continue
        body = client.get(f"/api/articles/{info.id}/facts").json()
        facts = extract_facts(store.get(info.id))
        assert len(body["events"]) == len(facts.events)
        assert [s["id"] for s in body["sessions"]] == [s.id for s in facts.sessions]
        assert [p["name"] for p in body["people"]] == [p.name for p in facts.people]


def test_stored_facts_come_back_whole(client):
    article_id = sample_id(client)
    article = store_of(client).get(article_id)
    facts = sample_facts(article)
    body = client.get(f"/api/articles/{article_id}/facts").json()
    event, first = facts.events[0], facts.sessions[0]
    quote = article.text[first.start : first.end]
    assert body["events"] == [
        {
            "name": "Forum di prova",
            "edition": "III edizione",
            "place": "Bologna",
            "dates": ["2024-05-09", "2024-05-10"],
            "dates_as_written": "9 e 10 maggio",
            "quote": article.text[event.start : event.end],
            "start": event.start,
            "end": event.end,
        }
    ]
    assert [list(s) for s in body["sessions"]] == [SESSION_KEYS, SESSION_KEYS]
    assert body["sessions"][0] == {
        "id": "s1",
        "title": "Il valore condiviso",
        "kind": "panel",
        "event": "Forum di prova",
        "quote": quote,
        "start": first.start,
        "end": first.end,
    }
    assert list(body["events"][0]) == EVENT_KEYS
    nicolo = body["people"][0]
    assert (nicolo["name"], nicolo["organisation"], nicolo["job_title"]) == (
        "Nicolò D\u2019Angelo",
        "Clust-ER Agrifood",
        "presidente",
    )
    assert nicolo["roles"][0] == {
        "role": "moderator",
        "session": "s1",
        "quote": quote,
        "start": first.start,
        "end": first.end,
    }
    assert nicolo["roles"][1]["session"] is None


def test_an_unknown_article_is_a_404_with_a_json_detail(client):
    response = client.get("/api/articles/nessuno/facts")
    assert response.status_code == 404
    assert response.json()["detail"] == "no article with id 'nessuno'"


def test_people_are_found_without_accents_or_case(client):
    article_id = sample_id(client)
    response = client.get("/api/people", params={"name": "NICOLO d'angelo"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "NICOLO d'angelo"
    [person] = body["people"]
    assert person["name"] == "Nicolò D\u2019Angelo"
    [mention] = person["articles"]
    article = store_of(client).get(article_id)
    assert (mention["article_id"], mention["title"]) == (article_id, article.title)
    assert mention["published"] == article.published.isoformat()
    assert (mention["organisation"], mention["job_title"]) == ("Clust-ER Agrifood", "presidente")
    assert [(r["role"], r["session"], r["session_title"]) for r in mention["roles"]] == [
        ("moderator", "s1", "Il valore condiviso"),
        ("speaker", None, None),
    ]
    for role in mention["roles"]:
        assert role["quote"] == article.text[role["start"] : role["end"]]
        assert role["quote"]


def test_people_with_no_match_is_an_empty_list(client):
    body = client.get("/api/people", params={"name": "Zzyzx"}).json()
    assert body == {"name": "Zzyzx", "people": []}


@pytest.mark.parametrize("params", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}])
def test_a_missing_blank_or_long_name_is_a_422(client, params):
    response = client.get("/api/people", params=params)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)
    assert "name" in response.json()["detail"]


def test_facts_endpoints_need_a_reader_key_when_keys_are_set(data_copy, make_settings):
    settings = make_settings(data_copy, api_keys=["chiave-1"])
    with TestClient(create_app(settings)) as keyed:
        article_id = store_of(keyed).articles()[0].id
        for path in (f"/api/articles/{article_id}/facts", "/api/people?name=serra"):
            assert keyed.get(path).status_code == 401
            assert keyed.get(path, headers={"Authorization": "Bearer sbagliata"}).status_code == 403
            assert keyed.get(path, headers={"Authorization": "Bearer chiave-1"}).status_code == 200


@pytest.mark.slow
def test_the_admin_reindex_job_recomputes_facts_of_another_version(
    data_copy, make_settings, admin, job_waiter
):
    with TestClient(create_app(make_settings(data_copy))) as app_client:
        store = store_of(app_client)
        ids = [a.id for a in store.articles()]
        for article_id in ids:
            assert store.put_facts(sample_facts(store.get(article_id)))
        assert store.stale_facts(EXTRACTOR_VERSION) == sorted(ids)
        job = app_client.post("/api/reindex", headers=admin).json()
        assert job_waiter(app_client, job["job_id"])["state"] == "done"
        assert store.stale_facts(EXTRACTOR_VERSION) == []
        for article_id in ids:
            body = app_client.get(f"/api/articles/{article_id}/facts").json()
            assert [p["name"] for p in body["people"]] == [
                p.name for p in extract_facts(store.get(article_id)).people
            ]
        # The hand-built people are gone with their facts; the extractor's, if any, remain.
        found = app_client.get("/api/people", params={"name": "d'angelo"}).json()["people"]
        extracted = {
            p.name
            for article_id in ids
            for p in extract_facts(store.get(article_id)).people
            if "d'angelo" in fold(p.name)
        }
        assert {p["name"] for p in found} == extracted


def test_deleting_an_article_deletes_its_facts(data_copy, make_settings, admin, job_waiter):
    with TestClient(create_app(make_settings(data_copy))) as app_client:
        store = store_of(app_client)
        article_id = store.articles()[0].id
        assert store.put_facts(sample_facts(store.get(article_id)))
        assert app_client.get("/api/people", params={"name": "serra"}).json()["people"]
        response = app_client.delete(f"/api/documents/{article_id}", headers=admin)
        assert response.status_code == 200
        if response.json()["job_id"]:
            job_waiter(app_client, response.json()["job_id"])
        assert app_client.get(f"/api/articles/{article_id}/facts").status_code == 404
        assert app_client.get("/api/people", params={"name": "angelo"}).json()["people"] == []


def test_the_openapi_schema_documents_both_endpoints(client):
    schema = client.get("/openapi.json").json()
    facts = schema["paths"]["/api/articles/{article_id}/facts"]["get"]
    people = schema["paths"]["/api/people"]["get"]
    assert {"200", "404"} <= set(facts["responses"])
    assert {"200", "422"} <= set(people["responses"])
    model = schema["components"]["schemas"]["ArticleFactsOut"]
    assert list(model["properties"]) == TOP_KEYS
    assert list(schema["components"]["schemas"]["EventOut"]["properties"]) == EVENT_KEYS
    assert list(schema["components"]["schemas"]["SessionOut"]["properties"]) == SESSION_KEYS
    assert list(schema["components"]["schemas"]["RoleOut"]["properties"]) == ROLE_KEYS
