"""Each supported format parses to the title, date, URL and text listed in tests/data/FACTS.md."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from ingest.chunk import chunk
from ingest.parse import parse_file
from ingest.types import Article, stable_id

DATA = Path(__file__).resolve().parents[1] / "data"


def only_article(name: str) -> Article:
    parsed = parse_file(DATA / name)
    assert len(parsed.articles) == 1
    assert parsed.line_errors == []
    return parsed.articles[0]


def find(text: str, sentence: str) -> int:
    """Offset of `sentence` in `text`, allowing any whitespace where it has a space."""
    pattern = r"\s+".join(re.escape(word) for word in sentence.split())
    match = re.search(pattern, text)
    assert match, f"{sentence!r} not found"
    return match.start()


def chunk_containing(article: Article, offset: int, **kwargs: int):
    hits = [c for c in chunk(article, **kwargs) if c.start <= offset < c.end]
    assert hits, f"no chunk contains offset {offset}"
    return hits[0]


# -- HTML ---------------------------------------------------------------------------------


def test_html_metadata_comes_from_the_page():
    article = only_article("articolo.html")
    assert article.title == "Test HTML: il forum dell'innovazione"
    assert article.published == date(2024, 2, 20)
    assert article.url == "https://news.clust-er.example/test-html"
    assert article.id == stable_id("https://news.clust-er.example/test-html")
    assert article.source == str(DATA / "articolo.html")


def test_html_keeps_the_article_text_and_drops_boilerplate():
    article = only_article("articolo.html")
    neri = (
        "Il dott. Giulio Neri, direttore del Centro Ricerche Estensi, ha presentato un "
        "programma di investimenti da 2,5 milioni di euro per nuovi laboratori."
    )
    assert neri in article.text
    assert "210 persone" in article.text
    for boilerplate in (
        "Home",
        "Notizie",
        "Eventi",
        "Contatti",
        "Privacy policy",
        "Cookie policy",
        "Iscriviti alla newsletter per ricevere le notizie dei cluster.",
        "© 2024 Clust-ER News",
    ):
        assert boilerplate not in article.text
    # The <h1> is the title, not the first line of the body.
    assert not article.text.startswith(article.title)


def test_html_subheadings_become_sections_and_chunk_headings():
    article = only_article("articolo.html")
    assert [s.title for s in article.sections] == ["Gli interventi", "I prossimi passi"]
    for section in article.sections:
        assert article.text[section.start :].startswith(section.title)
    neri = chunk_containing(article, article.text.index("Il dott. Giulio Neri"))
    assert neri.heading == "Gli interventi"
    pilot = chunk_containing(article, article.text.index("Il forum tornerà nel 2025."))
    assert pilot.heading == "I prossimi passi"
    intro = chunk_containing(article, article.text.index("Si è svolto a Ferrara"))
    assert intro.heading is None


# -- plain text and Markdown ---------------------------------------------------------------


def test_txt_front_matter_gives_title_date_url_and_stays_out_of_the_text():
    article = only_article("nota.txt")
    assert article.title == "Nota di prova sul cluster agroalimentare"
    assert article.published == date(2024, 4, 2)
    assert article.url == "https://news.clust-er.example/test-txt"
    for fact in ("hanno partecipato 18 imprese", "ing. Paola Serra", "9 maggio 2024"):
        assert fact in article.text
    for front in ("---", "title:", "date:", "url:"):
        assert front not in article.text
    paragraphs = [p for p in article.text.split("\n\n") if p.strip()]
    assert len(paragraphs) == 2


def test_markdown_title_from_first_heading_without_front_matter():
    article = only_article("guida.md")
    assert article.title == "Guida ai bandi regionali"
    assert article.published is None
    assert article.url is None
    assert not article.text.startswith("Guida ai bandi regionali")
    assert "#" not in article.text


def test_markdown_subheadings_become_sections_and_chunk_headings():
    article = only_article("guida.md")
    assert [s.title for s in article.sections] == ["Chi può partecipare", "Scadenze"]
    deadline = "Le domande devono essere presentate online entro il 30 giugno 2024."
    offset = article.text.index(deadline)
    assert article.heading_at(offset) == "Scadenze"
    for size, overlap in ((1200, 200), (200, 50)):
        found = chunk_containing(article, offset, size=size, overlap=overlap)
        assert found.heading == "Scadenze"
        assert deadline in found.text


# -- PDF ----------------------------------------------------------------------------------


def test_pdf_metadata_and_text():
    article = only_article("bollettino.pdf")
    assert article.title == "Bollettino dei cluster"
    assert article.published == date(2024, 1, 15)
    assert article.url is None
    assert article.text.startswith("Data: 2024-01-15")
    find(
        article.text,
        "Il 24 gennaio il cluster dell'agroalimentare ha ospitato un seminario "
        "sulla gestione dell'acqua in agricoltura, seguito da 85 persone in "
        "presenza e online.",
    )
    assert "29 febbraio" in article.text
    for accent in ("è", "à", "ì", "ù"):
        assert accent in article.text
    assert "Formazione e competenze" in article.text
    assert "Laboratori e servizi" in article.text


def test_pdf_chunks_carry_page_numbers():
    article = only_article("bollettino.pdf")
    assert len(article.pages) == 2
    page1 = find(article.text, "Il 24 gennaio il cluster dell'agroalimentare ha ospitato")
    page2 = find(
        article.text,
        "A febbraio il Laboratorio Aperto di Modena ospiterà tre giornate "
        "di dimostrazioni sulla stampa 3D di componenti metallici, aperte "
        "alle imprese associate.",
    )
    assert article.page_at(page1) == 1
    assert article.page_at(page2) == 2
    assert article.page_at(find(article.text, "Formazione e competenze")) == 2
    for size, overlap in ((1200, 200), (400, 100), (250, 0)):
        chunks = chunk(article, size=size, overlap=overlap)
        assert chunk_containing(article, page1, size=size, overlap=overlap).page == 1
        assert chunk_containing(article, page2, size=size, overlap=overlap).page == 2
        assert {c.page for c in chunks} == {1, 2}
        assert all(c.page == article.page_at(c.start) for c in chunks)


# -- JSONL --------------------------------------------------------------------------------


def test_jsonl_gives_one_article_per_line():
    parsed = parse_file(DATA / "articoli.jsonl")
    assert parsed.line_errors == []
    first, second, third = parsed.articles
    assert first.id == "art-001"
    assert first.title == "Il cluster della meccanica presenta il piano 2024"
    assert first.url == "https://news.clust-er.example/test-jsonl-1"
    assert first.published == date(2024, 3, 1)
    assert "1,8 milioni di euro" in first.text

    assert second.title == "Una nuova sede per il cluster della salute"
    assert second.url is None
    assert second.published == date(2024, 3, 5)
    assert "15 marzo 2024" in second.text
    assert re.fullmatch(r"[0-9a-f]{16}", second.id)

    assert third.id == "art-003"
    assert third.title == "Newsletter: le start-up dell'energia"
    assert third.url == "https://news.clust-er.example/test-jsonl-3"
    assert third.published == date(2024, 3, 12)
    assert third.source == "newsletter"
    assert "40 impianti fotovoltaici" in third.text
    assert first.source == str(DATA / "articoli.jsonl")


@pytest.mark.parametrize(
    "name", ["articolo.html", "nota.txt", "guida.md", "bollettino.pdf", "articoli.jsonl"]
)
def test_ids_and_hashes_are_stable_across_parses(name: str):
    once = parse_file(DATA / name).articles
    again = parse_file(DATA / name).articles
    assert [(a.id, a.content_hash) for a in once] == [(a.id, a.content_hash) for a in again]
    assert all(a.content_hash for a in once)
    assert len({a.id for a in once}) == len(once)
