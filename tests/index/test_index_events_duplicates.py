"""Event-date filters and near-duplicate groups in a real index generation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from index.docstore import DocStore
from index.search import Searcher
from index.types import Filters
from ingest.facts.extract import EXTRACTOR_VERSION
from server.pipeline import ingest_paths, update_index
from tests.facts_samples import sample_facts

pytestmark = pytest.mark.slow

BANDO = (
    "La Regione ha aperto il bando Voucher Digitali 2024 per le piccole imprese del "
    "territorio. Ogni impresa può chiedere un contributo fino a 20.000 euro per servizi di "
    "cybersicurezza, analisi dei dati e commercio elettronico.\n\n"
    "Il contributo copre il 50 per cento delle spese ammissibili. Le domande si presentano "
    "online dal 3 giugno al 15 luglio 2024 e sono valutate in ordine di arrivo fino a "
    "esaurimento dei fondi.\n\n"
    "La dotazione complessiva del bando è di 4 milioni di euro. Gli sportelli delle camere "
    "di commercio offrono assistenza gratuita alla compilazione delle domande."
)
# The same call republished four days later: new opening, an extra paragraph.
RIPUBBLICATO = (
    "Anche le imprese meccaniche del cluster possono partecipare al nuovo bando regionale. "
    "Ogni impresa può chiedere un contributo fino a 20.000 euro per servizi di "
    "cybersicurezza, analisi dei dati e commercio elettronico.\n\n"
    "Il contributo copre il 50 per cento delle spese ammissibili. Le domande si presentano "
    "online dal 3 giugno al 15 luglio 2024 e sono valutate in ordine di arrivo fino a "
    "esaurimento dei fondi.\n\n"
    "Il cluster organizza un incontro informativo per i soci nella propria sede di Modena.\n\n"
    "La dotazione complessiva del bando è di 4 milioni di euro. Gli sportelli delle camere "
    "di commercio offrono assistenza gratuita alla compilazione delle domande."
)
# Next year's call from the same template: other news, it must not group.
BANDO_2025 = (
    "La Regione ha aperto il bando Voucher Digitali 2025 per le piccole imprese del "
    "territorio. Ogni impresa può chiedere un contributo fino a 30.000 euro per servizi di "
    "cybersicurezza, analisi dei dati e commercio elettronico.\n\n"
    "Il contributo copre il 60 per cento delle spese ammissibili. Le domande si presentano "
    "online dal 2 giugno al 14 luglio 2025 e sono valutate in ordine di arrivo fino a "
    "esaurimento dei fondi.\n\n"
    "La dotazione complessiva del bando è di 5 milioni di euro. Gli sportelli delle camere "
    "di commercio offrono assistenza gratuita alla compilazione delle domande."
)
CORPUS = {
    "fiera-annuncio.txt": (
        "Annunciata la Fiera della Meccatronica 2024",
        "2024-03-01",
        "La Fiera della Meccatronica si terrà a Reggio Emilia dal 14 al 16 maggio 2024. "
        "Saranno presenti ottanta espositori del distretto.",
    ),
    "convegno.txt": (
        "Convegno sull'idrogeno a Ravenna",
        "2024-09-02",
        "Il convegno Idrogeno Verde 2024 si è svolto a Ravenna il 30 agosto 2024 con "
        "duecento partecipanti.",
    ),
    "nota.txt": (
        "Nota sui soci del cluster",
        "2024-05-15",
        "Il cluster conta oggi centoventi soci tra imprese, università e centri di ricerca.",
    ),
    "bando.txt": ("Voucher Digitali 2024, aperto il bando", "2024-05-20", BANDO),
    "bando-mech.txt": ("Voucher digitali anche per la meccanica", "2024-05-24", RIPUBBLICATO),
    "bando-2025.txt": ("Voucher Digitali 2025, aperto il bando", "2025-05-19", BANDO_2025),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, e5, article_writer):
    root = tmp_path_factory.mktemp("events")
    folder = root / "articoli"
    for name, (title, day, text) in CORPUS.items():
        article_writer(folder, name, title, text, date=day)
    store = DocStore(root / "data" / "clusterchat.sqlite3")
    assert ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200).added == 6
    assert update_index(store, e5, root / "data" / "index") is not None
    ids = {Path(a.source).name: a.id for a in store.articles()}
    yield Searcher(root / "data" / "index", e5), store, ids
    store.close()


def found(searcher: Searcher, query: str, filters: Filters, ids: dict[str, str]) -> set[str]:
    names = {v: k for k, v in ids.items()}
    return {names[h.chunk.article_id] for h in searcher.search(query, k=20, filters=filters)}


def test_an_event_date_filter_matches_any_event_date_and_never_an_article_without_one(built):
    searcher, _, ids = built
    query = "fiera convegno soci bando"
    may_15 = Filters(date(2024, 5, 15), date(2024, 5, 15), date_field="event")
    assert found(searcher, query, may_15, ids) == {"fiera-annuncio.txt"}
    # By publication date the same day is the note's, which reports no event.
    published = Filters(date(2024, 5, 15), date(2024, 5, 15))
    assert found(searcher, query, published, ids) == {"nota.txt"}
    summer = Filters(date(2024, 8, 1), None, date_field="event")
    assert found(searcher, query, summer, ids) == {"convegno.txt"}
    wide = Filters(date(2000, 1, 1), date(2099, 1, 1), date_field="event")
    assert found(searcher, query, wide, ids) == {"fiera-annuncio.txt", "convegno.txt"}
    # Without a range, the date field restricts nothing.
    assert "nota.txt" in found(searcher, query, Filters(date_field="event"), ids)
    hit = searcher.search("Fiera della Meccatronica", k=1)[0]
    assert hit.event_dates == (date(2024, 5, 14), date(2024, 5, 15), date(2024, 5, 16))


def test_an_unknown_date_field_is_refused():
    with pytest.raises(ValueError, match="date field"):
        Filters(date_field="evento")  # type: ignore[arg-type]


def test_a_republication_groups_with_its_original_and_another_year_does_not(built):
    searcher, store, ids = built
    assert store.duplicates() == {ids["bando-mech.txt"]: ids["bando.txt"]}
    generation = searcher.generation()
    assert generation.group(ids["bando-mech.txt"]) == [ids["bando.txt"], ids["bando-mech.txt"]]
    assert generation.group(ids["bando-2025.txt"]) == [ids["bando-2025.txt"]]
    (other,) = searcher.also_published(ids["bando.txt"])
    assert (other.id, other.title) == (
        ids["bando-mech.txt"],
        "Voucher digitali anche per la meccanica",
    )
    assert searcher.also_published(ids["bando-2025.txt"]) == ()


def test_search_finds_a_group_through_its_original_only(built):
    searcher, _, ids = built
    query = "contributo per servizi di cybersicurezza bando voucher"
    hits = {h.chunk.article_id for h in searcher.search(query, k=10)}
    assert ids["bando.txt"] in hits
    assert ids["bando-2025.txt"] in hits
    assert ids["bando-mech.txt"] not in hits
    # When a filter leaves the original out, the republication is found.
    mech = Filters(source="bando-mech")
    assert {h.chunk.article_id for h in searcher.search(query, k=10, filters=mech)} == {
        ids["bando-mech.txt"]
    }


def test_changed_facts_rebuild_the_index_with_the_new_event_dates(tmp_path, e5, article_writer):
    folder = tmp_path / "articoli"
    title, day, text = CORPUS["nota.txt"]
    article_writer(folder, "nota.txt", title, text + " Il cluster cresce.", date=day)
    store = DocStore(tmp_path / "data" / "clusterchat.sqlite3")
    index = tmp_path / "data" / "index"
    try:
        ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
        assert update_index(store, e5, index) is not None
        may_9 = Filters(date(2024, 5, 9), date(2024, 5, 9), date_field="event")
        searcher = Searcher(index, e5)
        assert searcher.search("soci del cluster", filters=may_9) == []
        assert update_index(store, e5, index) is None  # nothing changed: no new build
        (article,) = store.articles()
        facts = sample_facts(store.get(article.id), version=EXTRACTOR_VERSION)
        assert store.put_facts(facts)
        assert update_index(store, e5, index) is not None
        (hit,) = searcher.search("soci del cluster", filters=may_9)
        assert hit.event_dates == (date(2024, 5, 9), date(2024, 5, 10))
    finally:
        store.close()
