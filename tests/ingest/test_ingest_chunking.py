"""Chunks are exact slices of the article, sentence-aligned, sized, overlapping, headed."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ingest.chunk import chunk
from ingest.parse import parse_file
from ingest.sentences import sentence_spans
from ingest.types import Article, Section

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
DEMO = TESTS.parent / "demo" / "corpus"
ARTICLE_FILES = ("articolo.html", "nota.txt", "guida.md", "bollettino.pdf", "articoli.jsonl")
SETTINGS = [(1200, 200), (600, 150), (300, 100), (200, 0), (120, 40)]


@pytest.fixture(scope="module")
def all_articles() -> list[Article]:
    files = [DATA / n for n in ARTICLE_FILES] + sorted(DEMO.iterdir())
    articles = [a for f in files for a in parse_file(f).articles]
    assert len(articles) == 3 + 4 + 14  # 3 JSONL lines, 4 other test files, 14 demo files
    return articles


@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
def test_every_chunk_is_an_exact_slice_of_its_article(all_articles, size, overlap):
    for article in all_articles:
        chunks = chunk(article, size=size, overlap=overlap)
        assert chunks, article.source
        for n, c in enumerate(chunks):
            assert article.text[c.start : c.end] == c.text, (article.source, c.id)
            assert c.ordinal == n
            assert c.id == f"{article.id}:{n}"
            assert c.article_id == article.id
            assert c.text == c.text.strip()


@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
def test_chunks_respect_size_and_cover_the_whole_text(all_articles, size, overlap):
    for article in all_articles:
        chunks = chunk(article, size=size, overlap=overlap)
        assert all(len(c.text) <= size for c in chunks), article.source
        covered = [False] * len(article.text)
        for c in chunks:
            covered[c.start : c.end] = [True] * (c.end - c.start)
        missed = [i for i, ch in enumerate(article.text) if not covered[i] and not ch.isspace()]
        assert missed == [], (article.source, article.text[missed[0] : missed[0] + 40])
        starts = [c.start for c in chunks]
        assert starts == sorted(starts)


@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
def test_chunks_start_on_sentences_and_never_cross_a_heading(all_articles, size, overlap):
    for article in all_articles:
        spans = sentence_spans(article.text)
        if max(e - s for s, e in spans) > size:
            continue  # a sentence longer than the chunk is cut at whitespace instead
        sentence_starts = {s for s, _ in spans}
        for c in chunk(article, size=size, overlap=overlap):
            assert c.start in sentence_starts, (article.source, c.text[:60])
            assert any(e == c.end for _, e in spans), (article.source, c.text[-60:])
            inner = [s for s in article.sections if c.start < s.start < c.end]
            assert inner == [], (article.source, c.id, inner)
            assert c.heading == article.heading_at(c.start)


def test_headed_demo_chunks_carry_their_heading(all_articles):
    headed = [a for a in all_articles if a.sections]
    assert len(headed) >= 6  # the HTML and Markdown demo articles have subheadings
    for article in headed:
        chunks = chunk(article, size=300, overlap=80)
        for section in article.sections:
            first = next(c for c in chunks if c.start == section.start)
            assert first.heading == section.title
            assert first.text.startswith(section.title)


SENTENCES = [f"Frase numero {n} del testo di prova, scritta per il test." for n in range(1, 9)]
PROSE = " ".join(SENTENCES)  # eight sentences of 56-57 characters


def prose_article(text: str = PROSE, sections: tuple[Section, ...] = ()) -> Article:
    return Article(id="prova", source="prova.txt", title="Prova", text=text, sections=sections)


def test_overlap_repeats_the_trailing_sentences_of_the_previous_chunk():
    article = prose_article()
    chunks = chunk(article, size=200, overlap=120)
    assert len(chunks) >= 3
    for previous, current in itertools.pairwise(chunks):
        assert current.start < previous.end
        repeated = article.text[current.start : previous.end]
        assert len(repeated) <= 120
        # The repeated part is whole sentences: the tail of one chunk, the head of the next.
        assert repeated.startswith("Frase numero")
        assert repeated.endswith("scritta per il test.")
        assert previous.text.endswith(repeated)
        assert current.text.startswith(repeated)


def test_no_overlap_means_consecutive_chunks_do_not_share_text():
    chunks = chunk(prose_article(), size=200, overlap=0)
    assert len(chunks) >= 3
    for previous, current in itertools.pairwise(chunks):
        assert current.start >= previous.end


def test_overlap_never_crosses_a_section_boundary():
    text = PROSE + "\n\nSeconda parte\n\n" + PROSE
    start = text.index("Seconda parte")
    article = prose_article(text, (Section(start, "Seconda parte"),))
    chunks = chunk(article, size=200, overlap=120)
    after = [c for c in chunks if c.end > start]
    assert after[0].start == start
    assert all(c.start >= start for c in after)
    assert all(c.heading == "Seconda parte" for c in after)
    assert all(c.heading is None for c in chunks if c.end <= start)


def test_a_sentence_longer_than_the_size_is_cut_at_whitespace():
    long_sentence = " ".join(["parola"] * 100) + "."
    article = prose_article(long_sentence)
    chunks = chunk(article, size=120, overlap=0)
    assert len(chunks) > 1
    for c in chunks:
        assert len(c.text) <= 120
        assert article.text[c.start : c.end] == c.text
        assert not c.text.startswith(" ")
        assert c.text.split(" ")[0] == "parola"  # never a word cut in half
        assert c.text.rstrip(".").split(" ")[-1] == "parola"


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (-5, 0), (100, 100), (100, -1)])
def test_invalid_settings_are_rejected(size, overlap):
    with pytest.raises(ValueError, match=r"size|overlap"):
        chunk(prose_article(), size=size, overlap=overlap)
