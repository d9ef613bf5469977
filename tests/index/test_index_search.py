"""Real e5 search over a tiny corpus on both backends (FAISS + BM25; pgvector + full text):
modes, filters, generations, locking."""

from __future__ import annotations

from datetime import date

import pytest

from index.backends.pg_index import current_version
from index.backends.pg_search import PgSearcher
from index.backends.postgres import PgStore
from index.errors import IndexBusy, IndexNotBuilt
from index.generations import build, build_lock, current_name, generation_meta
from index.search import Fusion, Searcher
from index.store import DocumentStore, Retriever
from index.types import Filters
from server.pipeline import ingest_paths, update_index
from server.settings import Settings
from server.wiring import indexer_for, open_store
from tests import pg
from tests.pg import BACKENDS

pytestmark = pytest.mark.slow

CORPUS = {
    "idrogeno.txt": (
        "Idrogeno verde a Ravenna",
        "2024-05-27",
        "https://news.example/idrogeno",
        "A Ravenna è stato inaugurato un impianto pilota che produce idrogeno verde "
        "con l'energia del sole. L'impianto è stato progettato dall'ing. Marta "
        "Orsini e produrrà 40 tonnellate di idrogeno all'anno.",
    ),
    "baviera.txt": (
        "Missione delle imprese meccaniche a Monaco di Baviera",
        "2024-11-12",
        "https://news.example/baviera",
        "Quattordici imprese della meccanica emiliana hanno partecipato alla missione "
        "a Monaco di Baviera dal 5 al 7 novembre. Le aziende hanno incontrato i "
        "costruttori tedeschi di macchine utensili.",
    ),
    "festival.txt": (
        "Festival delle industrie creative",
        "2024-09-24",
        "https://news.example/festival",
        "A Reggio Emilia il festival delle industrie creative ha riunito musei, "
        "designer e sviluppatori di videogiochi. Lucia Galassi ha parlato di "
        "turismo digitale e di realtà aumentata nei musei.",
    ),
    "startup.txt": (
        "Graduatoria del bando per le start-up",
        "2024-07-09",
        None,
        "Il bando regionale per le start-up innovative ha finanziato 38 progetti con "
        "3,2 milioni di euro. Le imprese hanno diciotto mesi per completare i "
        "progetti.",
    ),
    "senza-data.txt": (
        "Nota interna sul calendario",
        None,
        None,
        "Una nota interna sul calendario delle riunioni del cluster della salute "
        "per il prossimo semestre.",
    ),
}


@pytest.fixture(scope="module", params=BACKENDS)
def corpus(request, tmp_path_factory, e5, article_writer) -> tuple[Settings, DocumentStore]:
    """The corpus stored and indexed by the backend of the test's parameter."""
    root = tmp_path_factory.mktemp("search")
    folder = root / "articoli"
    for name, (title, day, url, text) in CORPUS.items():
        article_writer(folder, name, title, text, date=day, url=url)
    settings = Settings(data_dir=root / "data")
    if request.param == "postgres":
        url = pg.create_database(request.getfixturevalue("pg_server"))
        settings = Settings(data_dir=root / "data", database_url=url)
    store = open_store(settings)
    report = ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
    assert report.added == len(CORPUS)
    assert update_index(store, e5, indexer_for(settings, store)) is not None
    yield settings, store
    store.close()


def searcher_of(corpus, e5, fusion: Fusion | None = None) -> Retriever:
    """A searcher of the corpus's backend with its own fusion."""
    settings, store = corpus
    if isinstance(store, PgStore):
        return PgSearcher(store, e5, fusion)
    return Searcher(settings.index_dir, e5, fusion)


@pytest.fixture(scope="module")
def searcher(corpus, e5) -> Retriever:
    return searcher_of(corpus, e5)


def titles(hits) -> list[str]:
    return [h.title for h in hits]


def test_dense_search_answers_an_italian_question(searcher):
    hits = searcher.search(
        "Chi ha progettato l'impianto per l'idrogeno a Ravenna?", k=3, mode="dense"
    )
    assert hits[0].title == "Idrogeno verde a Ravenna"
    assert "Marta Orsini" in hits[0].chunk.text


def test_dense_search_answers_an_english_question(searcher):
    hits = searcher.search(
        "How many companies joined the trade mission to Munich?", k=3, mode="dense"
    )
    assert hits[0].title == "Missione delle imprese meccaniche a Monaco di Baviera"
    assert "Quattordici imprese" in hits[0].chunk.text


def test_hybrid_search_finds_a_name_with_full_metadata(searcher, corpus):
    _, store = corpus
    hit = searcher.search("Cosa ha detto Lucia Galassi?", k=5)[0]
    assert hit.title == "Festival delle industrie creative"
    assert hit.url == "https://news.example/festival"
    assert hit.published == date(2024, 9, 24)
    assert hit.source.endswith("festival.txt")
    article = store.get(hit.chunk.article_id)
    assert article.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    assert hit.similarity is not None
    assert hit.bm25 is not None
    assert hit.bm25 > 0


def test_modes_report_their_own_signals(searcher):
    dense = searcher.search("idrogeno verde", k=5, mode="dense")
    lexical = searcher.search("idrogeno verde", k=5, mode="bm25")
    hybrid = searcher.search("idrogeno verde", k=5, mode="hybrid")
    assert len(dense) == 5  # every chunk has a cosine similarity
    assert all(h.similarity is not None and h.bm25 is None for h in dense)
    assert [h.score for h in dense] == [h.similarity for h in dense]
    assert titles(lexical) == ["Idrogeno verde a Ravenna"]  # BM25 skips chunks without the words
    assert all(h.bm25 is not None and h.similarity is None for h in lexical)
    assert hybrid[0].title == "Idrogeno verde a Ravenna"
    scores = [h.score for h in hybrid]
    assert scores == sorted(scores, reverse=True)

    # Default hybrid scores: each ranking's scores min-max scaled to [0, 1], then summed.
    def scaled(hits):
        values = [h.score for h in hits]
        low, high = min(values), max(values)
        return {h.chunk.id: (h.score - low) / (high - low) if high > low else 1.0 for h in hits}

    wide_dense = searcher.search("idrogeno verde", k=100, mode="dense")
    wide_lexical = searcher.search("idrogeno verde", k=100, mode="bm25")
    for hit in hybrid:
        expected = sum(
            ranks.get(hit.chunk.id, 0.0) for ranks in (scaled(wide_dense), scaled(wide_lexical))
        )
        assert hit.score == pytest.approx(expected)


def test_rrf_fusion_sums_reciprocal_ranks(corpus, e5):
    rrf = searcher_of(corpus, e5, Fusion(method="rrf", k=60))
    dense = rrf.search("idrogeno verde", k=100, mode="dense")
    lexical = rrf.search("idrogeno verde", k=100, mode="bm25")
    hybrid = rrf.search("idrogeno verde", k=5, mode="hybrid")
    dense_rank = {h.chunk.id: n for n, h in enumerate(dense, start=1)}
    lexical_rank = {h.chunk.id: n for n, h in enumerate(lexical, start=1)}
    assert hybrid[0].title == "Idrogeno verde a Ravenna"
    for hit in hybrid:
        expected = sum(
            1 / (60 + ranks[hit.chunk.id])
            for ranks in (dense_rank, lexical_rank)
            if hit.chunk.id in ranks
        )
        assert hit.score == pytest.approx(expected)


def test_fusion_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown fusion"):
        Fusion(method="max")


def test_bm25_with_no_known_word_returns_nothing(searcher):
    assert searcher.search("zafferano", mode="bm25") == []


def test_filters_apply_before_the_top_k_cut(corpus, e5):
    # One candidate per ranking: cutting first and filtering after would leave nothing.
    narrow = searcher_of(corpus, e5, Fusion(depth=1))
    question = "Chi ha progettato l'impianto per l'idrogeno a Ravenna?"
    september = Filters(since=date(2024, 9, 1), until=date(2024, 9, 30))
    assert titles(narrow.search(question, k=1)) == ["Idrogeno verde a Ravenna"]
    for mode in ("hybrid", "dense"):
        assert titles(narrow.search(question, k=1, mode=mode, filters=september)) == [
            "Festival delle industrie creative"
        ]
    # BM25 still needs a matching word: "musei" is only in the festival article.
    lexical = "idrogeno idrogeno Ravenna musei"
    assert titles(narrow.search(lexical, k=1, mode="bm25")) == ["Idrogeno verde a Ravenna"]
    assert titles(narrow.search(lexical, k=1, mode="bm25", filters=september)) == [
        "Festival delle industrie creative"
    ]


def test_source_filter_matches_url_or_file(searcher):
    question = "impianto di idrogeno"
    assert titles(searcher.search(question, k=5, filters=Filters(source="FESTIVAL"))) == [
        "Festival delle industrie creative"
    ]
    assert titles(searcher.search(question, k=5, filters=Filters(source="startup.txt"))) == [
        "Graduatoria del bando per le start-up"
    ]
    assert searcher.search(question, k=5, filters=Filters(source="nessuna-fonte")) == []


def test_date_filters_drop_undated_articles(searcher):
    question = "nota interna sul calendario delle riunioni"
    assert searcher.search(question, k=1)[0].title == "Nota interna sul calendario"
    for filters in (Filters(until=date(2030, 1, 1)), Filters(since=date(2000, 1, 1))):
        hits = searcher.search(question, k=10, filters=filters)
        assert len(hits) == 4
        assert "Nota interna sul calendario" not in titles(hits)
    summer = searcher.search(
        question, k=10, filters=Filters(since=date(2024, 5, 27), until=date(2024, 7, 9))
    )
    assert sorted(titles(summer)) == [
        "Graduatoria del bando per le start-up",
        "Idrogeno verde a Ravenna",
    ]


def test_invalid_searches_are_rejected(searcher):
    with pytest.raises(ValueError, match="k must be positive"):
        searcher.search("idrogeno", k=0)
    with pytest.raises(ValueError, match="unknown search mode"):
        searcher.search("idrogeno", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="since"):
        Filters(since=date(2024, 2, 1), until=date(2024, 1, 1))


def test_generation_meta_describes_the_index(corpus, searcher):
    settings, store = corpus
    if isinstance(store, PgStore):
        version = current_version(store.db.get())
        assert version is not None
        assert (version["embedder"], version["dim"], version["chunks"], version["articles"]) == (
            "e5-int8",
            384,
            5,
            5,
        )
        assert version["revision"] == store.revision
        assert version["name"] == searcher.generation().name
        return
    meta = generation_meta(settings.index_dir)
    assert meta is not None
    assert (meta["embedder"], meta["dim"], meta["chunks"], meta["faiss"]) == (
        "e5-int8",
        384,
        5,
        "flat",
    )
    assert meta["revision"] == corpus[1].revision
    assert meta["name"] == current_name(corpus[0].index_dir) == searcher.generation().name


# -- generations on their own data dir ------------------------------------------------------


def test_searcher_without_an_index_says_how_to_build_one(data_dir, e5):
    with pytest.raises(IndexNotBuilt, match="clusterchat ingest"):
        Searcher(data_dir / "index", e5).search("idrogeno")


def test_searcher_picks_up_a_new_generation(tmp_path, store, data_dir, e5, article_writer):
    folder, index_dir = tmp_path / "articoli", data_dir / "index"
    title, day, url, text = CORPUS["baviera.txt"]
    article_writer(folder, "baviera.txt", title, text, date=day, url=url)
    ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
    build(store, e5, index_dir)
    searcher = Searcher(index_dir, e5)
    first = searcher.generation().name
    assert searcher.search("Lucia Galassi", mode="bm25") == []

    title, day, url, text = CORPUS["festival.txt"]
    article_writer(folder, "festival.txt", title, text, date=day, url=url)
    ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
    report = build(store, e5, index_dir)
    assert report.embedded == 1
    assert titles(searcher.search("Lucia Galassi", mode="bm25")) == [
        "Festival delle industrie creative"
    ]
    assert searcher.generation().name == report.generation != first


def test_build_lock_makes_a_second_build_fail_fast(store, data_dir, e5):
    index_dir = data_dir / "index"
    with build_lock(index_dir):
        with pytest.raises(IndexBusy, match="another index build is running"):
            build(store, e5, index_dir)
        with pytest.raises(IndexBusy):
            update_index(store, e5, index_dir, force=True)
    assert build(store, e5, index_dir).chunks == 0  # free again once released
