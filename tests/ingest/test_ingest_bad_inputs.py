"""Every kind of bad input raises its own error class, with a message that names the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.errors import (
    BadEncoding,
    EmptyArticle,
    EncryptedDocument,
    IngestError,
    UnsupportedFormat,
)
from ingest.parse import iter_files, parse_file
from server.pipeline import ingest_paths

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("key", "error", "words"),
    [
        ("encrypted_pdf", EncryptedDocument, "encrypted"),
        ("image_only_pdf", EmptyArticle, "no text layer"),
        ("menu_only_html", EmptyArticle, "no main article text"),
        ("bad_utf8", BadEncoding, "not valid UTF-8"),
        ("docx", UnsupportedFormat, "unsupported file type '.docx'"),
        ("fake_pdf", UnsupportedFormat, "not a PDF"),
    ],
)
def test_bad_input_raises_its_error_naming_the_file(bad_inputs, key, error, words):
    path = bad_inputs[key]
    with pytest.raises(error) as caught:
        parse_file(path)
    assert isinstance(caught.value, IngestError)
    message = str(caught.value)
    assert str(path) in message
    assert words in message


def test_bad_utf8_message_gives_the_byte_offset(bad_inputs):
    path = bad_inputs["bad_utf8"]
    offset = path.read_bytes().index(b"\xe8")
    with pytest.raises(BadEncoding, match=f"byte {offset}"):
        parse_file(path)


def test_jsonl_bad_line_is_reported_by_number_and_valid_lines_are_kept(bad_inputs):
    parsed = parse_file(bad_inputs["jsonl_bad_line"])
    assert [a.id for a in parsed.articles] == ["ok-1", "ok-3"]
    assert [a.title for a in parsed.articles] == ["Primo articolo valido", "Terzo articolo valido"]
    assert [e.line for e in parsed.line_errors] == [2]
    assert "invalid JSON" in parsed.line_errors[0].reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"title": "Senza testo"}', 'missing or empty "text"'),
        ('["non", "un", "oggetto"]', "expected a JSON object"),
        ('{"text": "Testo.", "date": "ieri"}', '"date" is not a date'),
        ('{"text": "Testo.", "url": 5}', '"url" must be a string'),
        ('{"id": "ok-1", "text": "Stesso id di nuovo."}', "duplicate id 'ok-1'"),
    ],
)
def test_jsonl_invalid_records_are_reported_with_their_reason(tmp_path, line, reason):
    path = tmp_path / "righe.jsonl"
    path.write_text(
        '{"id": "ok-1", "title": "Buono", "text": "Un testo valido."}\n\n' + line + "\n",
        encoding="utf-8",
    )
    parsed = parse_file(path)
    assert [a.id for a in parsed.articles] == ["ok-1"]
    assert [(e.line, e.reason.startswith(reason)) for e in parsed.line_errors] == [(3, True)]


def test_empty_jsonl_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "vuoto.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"vuoto\.jsonl"):
        parse_file(path)


def test_pdf_content_under_a_text_extension_is_rejected(tmp_path):
    path = tmp_path / "bollettino.txt"
    shutil.copy(DATA / "bollettino.pdf", path)
    with pytest.raises(UnsupportedFormat, match=r"bollettino\.txt.*content is a PDF"):
        parse_file(path)


def test_binary_content_in_a_text_file_is_rejected(tmp_path):
    path = tmp_path / "binario.txt"
    path.write_bytes(b"Titolo\n\x00\x01\x02 dati binari")
    with pytest.raises(UnsupportedFormat, match=r"binario\.txt.*binary"):
        parse_file(path)


def test_empty_text_file_is_empty_article(tmp_path):
    path = tmp_path / "vuoto.md"
    path.write_text("---\ntitle: Solo titolo\n---\n\n   \n", encoding="utf-8")
    with pytest.raises(EmptyArticle, match=r"vuoto\.md"):
        parse_file(path)


def test_pdf_with_only_an_owner_password_is_readable(tmp_path):
    path = tmp_path / "protetto.pdf"
    writer = PdfWriter(clone_from=DATA / "bollettino.pdf")
    writer.encrypt(user_password="", owner_password="proprietario")
    with path.open("wb") as handle:
        writer.write(handle)
    article = parse_file(path).articles[0]
    assert article.title == "Bollettino dei cluster"
    assert "29 febbraio" in article.text


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffTitolo con BOM\n\nIl testo della nota è qui.\n".encode())
    article = parse_file(path).articles[0]
    assert article.title == "Titolo con BOM"
    assert article.text == "Il testo della nota è qui."


def test_missing_path_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "non-esiste"
    with pytest.raises(IngestError, match="non-esiste: no such file or folder"):
        list(iter_files([missing]))


def test_folders_skip_unsupported_files_but_named_files_are_reported(bad_inputs):
    folder = bad_inputs["docx"].parent
    found = list(iter_files([folder]))
    assert bad_inputs["docx"] not in found
    assert set(found) == {p for k, p in bad_inputs.items() if k != "docx"}
    assert list(iter_files([bad_inputs["docx"]])) == [bad_inputs["docx"]]


def test_hidden_files_in_folders_are_skipped(tmp_path):
    (tmp_path / ".bozza.txt").write_text("Titolo\n\nNascosto.\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "nota.txt").write_text("Titolo\n\nNascosto.\n", encoding="utf-8")
    (tmp_path / "visibile.txt").write_text("Titolo\n\nVisibile.\n", encoding="utf-8")
    assert list(iter_files([tmp_path])) == [tmp_path / "visibile.txt"]


def test_ingest_stores_good_files_and_reports_each_bad_one(bad_inputs, store):
    folder = bad_inputs["docx"].parent
    shutil.copy(DATA / "nota.txt", folder / "nota.txt")
    report = ingest_paths([folder, bad_inputs["docx"]], store, chunk_chars=1200, chunk_overlap=200)
    failed = dict(report.failed)
    expected = {str(p) for k, p in bad_inputs.items() if k != "jsonl_bad_line"}
    expected.add(f"{bad_inputs['jsonl_bad_line']}:2")
    assert set(failed) == expected
    assert report.added == 3  # nota.txt and the two valid JSONL lines
    titles = {a.title for a in store.articles()}
    assert titles == {
        "Nota di prova sul cluster agroalimentare",
        "Primo articolo valido",
        "Terzo articolo valido",
    }
    # A file with a bad line is read again next time, so the error is reported again.
    again = ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
    assert f"{bad_inputs['jsonl_bad_line']}:2" in dict(again.failed)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
