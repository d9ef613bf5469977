"""Facts in the SQLite store: stored with their article, replaced, deleted, migrated, searched."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from index.docstore import DocStore
from ingest.chunk import chunk
from ingest.facts.extract import EXTRACTOR_VERSION, extract_facts
from ingest.facts.types import Facts
from ingest.types import Article, Chunk, content_hash
from server.extraction import refresh_facts
from server.pipeline import ingest_paths
from tests.facts_samples import SAMPLE_VERSION, sample_facts

CHUNK = {"chunk_chars": 1200, "chunk_overlap": 200}


def article(article_id: str, text: str, title: str = "Titolo") -> Article:
    return Article(
        id=article_id,
        source=f"{article_id}.txt",
        title=title,
        text=text,
        published=date(2024, 4, 22),
        content_hash=content_hash(title, text, None, date(2024, 4, 22)),
    )


def pair(a: Article) -> tuple[Article, list[Chunk]]:
    return a, chunk(a, size=200, overlap=0)


FORUM = article(
    "forum",
    "Il Forum si è tenuto a Bologna il 9 maggio. Nicolò D'Angelo ha moderato il panel. "
    "Paola Serra ha ricevuto il premio.",
)
OTHER = article("altro", "Un altro articolo parla di idrogeno. Ha due frasi.")


def sql(store: DocStore, query: str, *args: object) -> list[tuple]:
    with sqlite3.connect(store.path) as db:
        return db.execute(query, args).fetchall()


def test_ingest_stores_what_the_extractor_finds_for_every_article(test_data_copy, store):
    report = ingest_paths([test_data_copy], store, **CHUNK)
    assert report.added == 7
    ids = [a.id for a in store.articles()]
    stored = store.facts(ids)
    assert set(stored) == set(ids)
    for article_id in ids:
        recomputed = extract_facts(store.get(article_id))
        assert stored[article_id] == recomputed
        assert stored[article_id].version == EXTRACTOR_VERSION
    assert store.stale_facts(EXTRACTOR_VERSION) == []


def test_stored_facts_round_trip_with_section_dates_version_and_verbatim_quotes(store):
    facts = sample_facts(FORUM)
    store.put_file("/f/forum.txt", "fp", [pair(FORUM)], facts={FORUM.id: facts})
    got = store.facts([FORUM.id, "nessuno"])
    assert got == {FORUM.id: facts}
    assert got[FORUM.id].version == SAMPLE_VERSION
    assert got[FORUM.id].section == "Eventi"
    [(data,)] = sql(store, "SELECT data FROM facts WHERE article_id=?", FORUM.id)
    stored = json.loads(data)
    quotes = [e["quote"] for e in stored["events"]] + [s["quote"] for s in stored["sessions"]]
    quotes += [r["quote"] for p in stored["people"] for r in p["roles"]]
    spans = [(e.start, e.end) for e in facts.events] + [(s.start, s.end) for s in facts.sessions]
    spans += [(r.start, r.end) for p in facts.people for r in p.roles]
    assert quotes == [FORUM.text[s:e] for s, e in spans]
    assert all(quotes)


def test_re_ingest_replaces_the_facts_and_a_changed_article_without_facts_has_none(store):
    store.put_file("/f/forum.txt", "fp1", [pair(FORUM)], facts={FORUM.id: sample_facts(FORUM)})
    edited = article(FORUM.id, FORUM.text + " Il prossimo incontro è a giugno.")
    newer = sample_facts(edited, person="Giulio Neri", version="sample-2")
    outcome = store.put_file("/f/forum.txt", "fp2", [pair(edited)], facts={edited.id: newer})
    assert outcome == {FORUM.id: "updated"}
    assert store.facts([FORUM.id]) == {FORUM.id: newer}
    assert store.find_people("nicolo") == []
    assert [m.person.name for m in store.find_people("neri")] == ["Giulio Neri"]
    # Replaced again with no facts given: the old ones go with the old text.
    again = article(FORUM.id, FORUM.text + " Terza versione.")
    store.put_file("/f/forum.txt", "fp3", [pair(again)])
    assert store.facts([FORUM.id]) == {}
    assert store.stale_facts("sample-2") == [FORUM.id]


def test_unchanged_article_gets_facts_of_a_new_version_but_keeps_equal_ones(store):
    store.put_file("/f/forum.txt", "fp1", [pair(FORUM)], facts={FORUM.id: sample_facts(FORUM)})
    revision = store.revision
    newer = sample_facts(FORUM, person="Giulio Neri", version="sample-2")
    outcome = store.put_file("/f/forum.txt", "fp2", [pair(FORUM)], facts={FORUM.id: newer})
    assert outcome == {FORUM.id: "unchanged"}
    assert store.facts([FORUM.id]) == {FORUM.id: newer}
    assert store.revision == revision  # facts need no new index generation


def test_facts_go_with_their_article_whichever_way_it_is_removed(store):
    facts = {a.id: sample_facts(a) for a in (FORUM, OTHER)}
    store.put_file("/f/forum.txt", "fp", [pair(FORUM)], facts=facts)
    store.put_file("/f/other.txt", "fp", [pair(OTHER)], facts=facts)
    store.put_file("/f/gone.txt", "fp", [pair(article("gone", "Sparirà presto."))])
    store.delete(FORUM.id)
    assert store.facts([FORUM.id, OTHER.id]).keys() == {OTHER.id}
    store.forget_file("/f/other.txt")
    assert store.facts([OTHER.id]) == {}
    assert sql(store, "SELECT COUNT(*) FROM facts") == [(0,)]
    assert sql(store, "SELECT COUNT(*) FROM fact_people") == [(0,)]
    assert store.find_people("serra") == []


def test_facts_with_spans_outside_the_text_store_nothing_of_the_file(store):
    bad = sample_facts(OTHER)  # offsets of OTHER's sentences, longer than the short text
    short = article("corto", "Breve.")
    wrong = Facts(article_id=short.id, events=bad.events, version="x")
    with pytest.raises(ValueError, match="outside the text"):
        store.put_file("/f/short.txt", "fp", [pair(short)], facts={short.id: wrong})
    assert store.counts() == (0, 0)
    assert store.fingerprint("/f/short.txt") is None
    assert sql(store, "SELECT COUNT(*) FROM facts") == [(0,)]


def test_a_store_from_before_facts_migrates_and_refresh_fills_it(data_dir, test_data_copy):
    path = data_dir / "clusterchat.sqlite3"
    old = DocStore(path)
    ingest_paths([test_data_copy], old, **CHUNK)
    old.close()
    with sqlite3.connect(path) as db:  # what a store written before facts looks like
        db.execute("DROP TABLE fact_people")
        db.execute("DROP TABLE facts")
    store = DocStore(path)
    try:
        ids = sorted(a.id for a in store.articles())
        assert len(ids) == 7
        assert store.facts(ids) == {}
        assert store.stale_facts(EXTRACTOR_VERSION) == ids
        assert refresh_facts(store) == 7
        assert store.stale_facts(EXTRACTOR_VERSION) == []
        stored = store.facts(ids)
        assert all(stored[i] == extract_facts(store.get(i)) for i in ids)
    finally:
        store.close()


def test_refresh_recomputes_only_facts_of_another_version(store):
    store.put_file("/f/forum.txt", "fp", [pair(FORUM)], facts={FORUM.id: sample_facts(FORUM)})
    store.put_file("/f/other.txt", "fp", [pair(OTHER)], facts={OTHER.id: extract_facts(OTHER)})
    assert store.stale_facts(EXTRACTOR_VERSION) == [FORUM.id]
    assert refresh_facts(store) == 1
    assert store.facts([FORUM.id]) == {FORUM.id: extract_facts(FORUM)}
    assert store.facts([FORUM.id])[FORUM.id].version == EXTRACTOR_VERSION
    assert refresh_facts(store) == 0


def test_put_facts_refuses_facts_of_a_replaced_text(store):
    store.put_file("/f/forum.txt", "fp", [pair(FORUM)])
    facts = sample_facts(FORUM)
    assert not store.put_facts(facts, content_hash="another text")
    assert not store.put_facts(Facts(article_id="nessuno"))
    assert store.facts([FORUM.id]) == {}
    assert store.put_facts(facts, content_hash=FORUM.content_hash)
    assert store.facts([FORUM.id]) == {FORUM.id: facts}


def test_cached_facts_see_writes_of_another_connection(data_dir: Path):
    path = data_dir / "clusterchat.sqlite3"
    reader, writer = DocStore(path), DocStore(path)
    try:
        writer.put_file("/f/forum.txt", "fp", [pair(FORUM)])
        assert reader.facts([FORUM.id]) == {}  # cached as "none"
        facts = sample_facts(FORUM)
        assert writer.put_facts(facts)
        assert reader.facts([FORUM.id]) == {FORUM.id: facts}
        writer.delete(FORUM.id)
        assert reader.facts([FORUM.id]) == {}
    finally:
        reader.close()
        writer.close()


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("nicolo", ["Nicolò D\u2019Angelo"]),
        ("NICOLÒ", ["Nicolò D\u2019Angelo"]),
        ("d'angelo", ["Nicolò D\u2019Angelo"]),
        ("  Nicolo   d\u2019ANGELO ", ["Nicolò D\u2019Angelo"]),
        ("serra", ["Paola Serra"]),
        ("a", ["Nicolò D\u2019Angelo", "Paola Serra"]),
        ("%", []),
        ("_", []),
        ("rossi", []),
    ],
)
def test_find_people_ignores_accents_case_apostrophes_and_spaces(store, query, found):
    store.put_file("/f/forum.txt", "fp", [pair(FORUM)], facts={FORUM.id: sample_facts(FORUM)})
    assert [m.person.name for m in store.find_people(query)] == found


def test_find_people_returns_the_article_sessions_and_quotes(store):
    facts = sample_facts(FORUM)
    store.put_file("/f/forum.txt", "fp", [pair(FORUM)], facts={FORUM.id: facts})
    [mention] = store.find_people("angelo")
    assert (mention.article_id, mention.title, mention.published) == (
        FORUM.id,
        FORUM.title,
        date(2024, 4, 22),
    )
    assert mention.person == facts.people[0]
    assert mention.quotes == tuple(FORUM.text[r.start : r.end] for r in facts.people[0].roles)
    assert mention.facts.session(mention.person.roles[0].session).title == "Il valore condiviso"
