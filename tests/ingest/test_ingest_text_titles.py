"""Text, Markdown and PDF without a named title keep every paragraph in the searchable text."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.chunk import chunk
from ingest.parse import parse_file
from ingest.text import DERIVED_TITLE_CHARS
from ingest.types import Article
from server.pipeline import ingest_paths

LONG_PARAGRAPH = (
    "Il Clust-ER Agrifood ha riunito ieri a Piacenza diciotto imprese della filiera del "
    "pomodoro da industria per presentare il nuovo laboratorio condiviso di analisi sensoriale, "
    "finanziato con 1,4 milioni di euro dalla Regione Emilia-Romagna."
)
SECOND = "La direttrice del laboratorio, Chiara Valli, ha illustrato il calendario delle prove."


def parse(tmp_path: Path, name: str, content: str) -> Article:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    parsed = parse_file(path)
    assert len(parsed.articles) == 1
    return parsed.articles[0]


def assert_whole_text_is_chunked(article: Article) -> None:
    chunks = chunk(article, size=400, overlap=50)
    covered = "".join(article.text[c.start : c.end] for c in chunks)
    for word in article.text.split():
        assert word in covered


def test_a_one_line_txt_of_1800_characters_is_an_article(tmp_path):
    line = " ".join([LONG_PARAGRAPH] * 8)[:1800].rstrip()
    article = parse(tmp_path, "riga.txt", line + "\n")
    assert article.text == line
    assert article.title.endswith("…")
    assert len(article.title) <= DERIVED_TITLE_CHARS + 1
    assert line.startswith(article.title[:-1])
    assert_whole_text_is_chunked(article)


def test_a_txt_without_a_title_line_keeps_its_first_paragraph(tmp_path):
    article = parse(tmp_path, "senza-titolo.txt", f"{LONG_PARAGRAPH}\n\n{SECOND}\n")
    assert article.text == f"{LONG_PARAGRAPH}\n\n{SECOND}"
    assert LONG_PARAGRAPH.startswith(article.title.removesuffix("…"))


def test_a_first_line_that_ends_a_sentence_stays_in_the_text(tmp_path):
    first = "Il laboratorio apre a maggio."
    article = parse(tmp_path, "frase.txt", f"{first}\n\n{SECOND}\n")
    assert article.text.startswith(first)
    assert article.title == first


def test_a_hard_wrapped_first_paragraph_stays_in_the_text(tmp_path):
    wrapped = "Il Clust-ER Agrifood ha riunito ieri a Piacenza diciotto imprese\ndella filiera."
    article = parse(tmp_path, "a-capo.txt", f"{wrapped}\n\n{SECOND}\n")
    assert article.text.startswith(wrapped)


def test_a_short_headline_line_is_the_title_and_the_dateline_stays(tmp_path):
    article = parse(
        tmp_path,
        "titolo.txt",
        f"Un laboratorio sensoriale per il pomodoro\nPiacenza, 9 maggio 2024\n\n{SECOND}\n",
    )
    assert article.title == "Un laboratorio sensoriale per il pomodoro"
    assert article.text == f"Piacenza, 9 maggio 2024\n\n{SECOND}"
    assert article.published == date(2024, 5, 9)


def test_a_one_line_short_txt_keeps_its_line_as_text_and_title(tmp_path):
    article = parse(tmp_path, "breve.txt", "Il laboratorio apre a maggio\n")
    assert article.title == "Il laboratorio apre a maggio"
    assert article.text == "Il laboratorio apre a maggio"


def test_markdown_without_a_heading_keeps_its_first_paragraph(tmp_path):
    article = parse(
        tmp_path, "nota.md", f"**Piacenza** — {LONG_PARAGRAPH}\n\n## Il calendario\n\n{SECOND}\n"
    )
    assert article.text.startswith(f"Piacenza — {LONG_PARAGRAPH}")
    assert [s.title for s in article.sections] == ["Il calendario"]
    heading = article.sections[0]
    assert article.text[heading.start :].startswith("Il calendario")


def test_front_matter_without_a_title_keeps_the_first_paragraph(tmp_path):
    article = parse(
        tmp_path,
        "fm.txt",
        f"---\ndate: 2024-05-09\nurl: https://example.org/lab\n---\n\n{LONG_PARAGRAPH}\n\n{SECOND}\n",
    )
    assert article.text == f"{LONG_PARAGRAPH}\n\n{SECOND}"
    assert article.published == date(2024, 5, 9)
    assert article.url == "https://example.org/lab"


@pytest.mark.parametrize("name", ["senza-titolo.txt", "senza-titolo.md"])
def test_the_first_paragraph_is_stored_and_chunked(tmp_path, store, name):
    folder = tmp_path / "articoli"
    folder.mkdir()
    (folder / name).write_text(f"{LONG_PARAGRAPH}\n\n{SECOND}\n", encoding="utf-8")
    report = ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
    assert report.added == 1, report.failed
    stored = "\n".join(row[0].text for row in store.chunk_rows())
    assert "finanziato con 1,4 milioni di euro" in stored
    assert SECOND in stored


def write_pdf(path: Path, lines: list[str], title: str = "") -> Path:
    """A one-page PDF with `lines` as its text layer and `title` as its metadata title."""
    page = canvas.Canvas(str(path), pagesize=A4)
    page.setTitle(title)
    text = page.beginText(40, 800)
    text.setFont("Helvetica", 9)
    for line in lines:
        text.textLine(line)
    page.drawText(text)
    page.showPage()
    page.save()
    return path


def test_a_pdf_without_a_title_keeps_its_first_paragraph(tmp_path):
    lines = [*textwrap.wrap(LONG_PARAGRAPH, 90), "", SECOND]
    parsed = parse_file(write_pdf(tmp_path / "senza-titolo.pdf", lines))
    [article] = parsed.articles
    assert " ".join(article.text.split()).startswith(LONG_PARAGRAPH)
    assert SECOND in " ".join(article.text.split())
    assert LONG_PARAGRAPH.startswith(article.title.removesuffix("…"))


def test_a_pdf_title_line_leaves_the_text_only_when_it_is_the_whole_line(tmp_path):
    headline = "Un laboratorio sensoriale per il pomodoro"
    titled = parse_file(write_pdf(tmp_path / "a.pdf", [headline, "", SECOND], title=headline))
    assert titled.articles[0].title == headline
    assert titled.articles[0].text == SECOND
    prefix = parse_file(
        write_pdf(tmp_path / "b.pdf", [SECOND, "", "Altro."], title="La direttrice")
    )
    assert prefix.articles[0].title == "La direttrice"
    assert prefix.articles[0].text.startswith(SECOND)
    alone = parse_file(write_pdf(tmp_path / "c.pdf", [headline], title=headline))
    assert alone.articles[0].text == headline
