"""Uploads lose nothing: a second file with a stored upload's name is asked about, not merged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from server.http.app import create_app
from server.settings import Settings
from tests.server.test_admin_writes import wait_jobs
from tests.server.test_api import assert_json_error

NAME = "comunicato.txt"
FIRST = (
    b"Il Clust-ER Agrifood presenta il bando filiere corte\n\n"
    b"Il Clust-ER Agrifood ha presentato a Parma il bando per le filiere corte, "
    b"con 400 mila euro per dodici progetti di imprese agricole.\n"
)
SECOND = (
    b"Il cluster Meccatronica apre la scuola estiva sui robot\n\n"
    b"Il cluster Meccatronica ha aperto a Modena la scuola estiva sui robot collaborativi, "
    b"con trenta studenti e sei aziende ospiti.\n"
)
THIRD = b"Terza notizia sul comunicato\n\nIl consorzio ha firmato un accordo con il porto.\n"


def documents(client: TestClient, admin: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Article id -> (title, source file name)."""
    listed = client.get("/api/documents", headers=admin).json()["documents"]
    return {d["id"]: (d["title"], Path(d["source"]).name) for d in listed}


def upload(
    client: TestClient, admin: dict[str, str], *files: tuple[str, bytes], on_conflict: str = ""
):
    query = f"?on_conflict={on_conflict}" if on_conflict else ""
    parts = [("files", f) for f in files]
    return client.post(f"/api/documents{query}", headers=admin, files=parts)


def test_a_different_file_with_a_stored_name_is_refused_naming_the_stored_article(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    with TestClient(create_app(settings)) as client:
        first = upload(client, admin, (NAME, FIRST)).json()
        assert first["added"] == 1
        before = documents(client, admin)
        (stored_id,) = [i for i, (_, source) in before.items() if source == NAME]

        clash = upload(client, admin, (NAME, SECOND))
        detail = assert_json_error(clash, 409)
        assert stored_id in detail
        assert "Clust-ER Agrifood presenta il bando filiere corte" in detail
        (conflict,) = clash.json()["conflicts"]
        assert conflict["file"] == NAME
        assert conflict["articles"] == [
            {"id": stored_id, "title": "Il Clust-ER Agrifood presenta il bando filiere corte"}
        ]
        assert documents(client, admin) == before
        assert (settings.uploads_dir / NAME).read_bytes() == FIRST

        # The same bytes again are unchanged, not a clash.
        same = upload(client, admin, (NAME, FIRST))
        assert same.status_code == 200, same.text
        assert (same.json()["unchanged"], same.json()["conflicts"]) == (1, [])

        # In a batch, the clashing file is listed and the other one is stored.
        batch = upload(client, admin, (NAME, SECOND), ("altro.txt", THIRD))
        assert batch.status_code == 200, batch.text
        body = batch.json()
        assert body["added"] == 1
        assert [c["file"] for c in body["conflicts"]] == [NAME]
        assert [f["file"] for f in body["failed"]] == [NAME]
        assert stored_id in body["failed"][0]["reason"]
        after = documents(client, admin)
        assert after[stored_id] == before[stored_id]
        assert len(after) == len(before) + 1
        wait_jobs(client, {first["job_id"], body["job_id"]}, admin)


def test_keep_stores_both_articles_and_replace_updates_the_stored_one(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    with TestClient(create_app(settings)) as client:
        jobs = {upload(client, admin, (NAME, FIRST)).json()["job_id"]}
        before = documents(client, admin)

        kept = upload(client, admin, (NAME, SECOND), on_conflict="keep")
        assert kept.status_code == 200, kept.text
        assert (kept.json()["added"], kept.json()["updated"]) == (1, 0)
        jobs.add(kept.json()["job_id"])
        after = documents(client, admin)
        assert set(before) < set(after)
        titles = {title for title, source in after.values() if source.startswith("comunicato")}
        assert titles == {
            "Il Clust-ER Agrifood presenta il bando filiere corte",
            "Il cluster Meccatronica apre la scuola estiva sui robot",
        }
        assert (settings.uploads_dir / NAME).read_bytes() == FIRST
        assert (settings.uploads_dir / "comunicato-2.txt").read_bytes() == SECOND
        # Keeping the same bytes again finds the copy: nothing is added twice.
        again = upload(client, admin, (NAME, SECOND), on_conflict="keep").json()
        assert (again["added"], again["unchanged"]) == (0, 1)
        assert documents(client, admin) == after

        (first_id,) = [i for i, (_, s) in after.items() if s == NAME]
        replaced = upload(client, admin, (NAME, THIRD), on_conflict="replace")
        assert replaced.status_code == 200, replaced.text
        assert (replaced.json()["added"], replaced.json()["updated"]) == (0, 1)
        jobs.add(replaced.json()["job_id"])
        final = documents(client, admin)
        assert final[first_id] == ("Terza notizia sul comunicato", NAME)
        assert len(final) == len(after)
        wait_jobs(client, jobs, admin)


def test_an_unknown_on_conflict_value_is_a_json_422(
    tmp_path: Path,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    admin: dict[str, str],
) -> None:
    settings = make_settings(copy_built(tmp_path / "data"))
    with TestClient(create_app(settings)) as client:
        before = documents(client, admin)
        response = upload(client, admin, (NAME, FIRST), on_conflict="overwrite")
        assert "on_conflict" in assert_json_error(response, 422)
        assert documents(client, admin) == before
