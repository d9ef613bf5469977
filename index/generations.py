"""Index generations: build into a fresh folder, then switch a pointer atomically."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index import faiss_store
from index.docstore import DocStore
from index.duplicates import DUPLICATES_VERSION, find_duplicates
from index.embedders import Embedder
from index.errors import IndexBusy
from index.lexical import TOKENIZER_VERSION, LexicalIndex
from index.types import Vectors
from ingest.types import Chunk

logger = logging.getLogger(__name__)

POINTER = "CURRENT"
KEEP_GENERATIONS = 3
Progress = Callable[[int, int], None]
# Splits a chunk's text into sentence spans (start, end); given by the caller, so that the
# index does not depend on how ingest splits sentences.
Splitter = Callable[[str], Sequence[tuple[int, int]]]
SENTENCE_VECTORS = "sentences.npy"  # one float16 row per distinct sentence
SENTENCE_KEYS = "sentence_keys.npy"  # the sha256 digest of each row's sentence
# Per article: the dates of the events it reports and the original it duplicates, if any.
ARTICLES = "articles.json"


def text_key(text: str) -> bytes:
    """The content key of a text: its vector is cached and looked up by it."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def embed_text(title: str, heading: str | None, text: str) -> str:
    """What the models see for a chunk: its article title and heading give it context."""
    return "\n".join(part for part in (title, heading, text) if part)


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did."""

    generation: str
    chunks: int
    embedded: int  # vectors computed by the model; the rest came from the cache
    seconds: float
    sentences: int = 0  # distinct sentences with a vector of their own
    replaced_embedder: str | None = None  # the other embedder the previous generation used


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold the index's build lock, or raise IndexBusy at once if another build has it."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy("another index build is running; try again when it ends") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_name(root: Path) -> str | None:
    """The name of the generation the pointer names, if any."""
    try:
        return (root / POINTER).read_text().strip() or None
    except FileNotFoundError:
        return None


def _embed_all(
    store: DocStore, embedder: Embedder, texts: list[str], batch: int, progress: Progress | None
) -> tuple[Vectors, int]:
    keys = [text_key(t).hex() for t in texts]
    cached = store.cached_vectors(embedder.name, keys)
    missing = [i for i, key in enumerate(keys) if key not in cached]
    done = len(texts) - len(missing)
    if progress:
        progress(done, len(texts))
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        vectors = embedder.passages([texts[i] for i in part])
        # Committed per batch: a killed build resumes from here on the next run.
        store.cache_vectors(embedder.name, [keys[i] for i in part], vectors)
        cached.update({keys[i]: v for i, v in zip(part, vectors, strict=True)})
        done += len(part)
        if progress:
            progress(done, len(texts))
    matrix = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, key in enumerate(keys):
        vector = cached[key]
        if vector.shape[0] != embedder.dim:
            raise ValueError(f"cached vector has dimension {vector.shape[0]}, not {embedder.dim}")
        matrix[i] = vector
    return matrix, len(missing)


def _chunk_record(
    chunk: Chunk, title: str, url: str | None, published: object, source: str
) -> dict[str, object]:
    return {
        "id": chunk.id,
        "article_id": chunk.article_id,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "heading": chunk.heading,
        "page": chunk.page,
        "title": title,
        "url": url,
        "published": published.isoformat() if published else None,  # type: ignore[attr-defined]
        "source": source,
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build(
    store: DocStore,
    embedder: Embedder,
    root: Path,
    *,
    faiss_kind: str = "flat",
    batch: int | None = None,
    progress: Progress | None = None,
    sentences: Splitter | None = None,
) -> BuildReport:
    """Build a new generation from every stored chunk and make it current.

    Vectors of unchanged chunk texts come from the embedding cache, so an update after a
    small change embeds only the new text, and its result equals a full rebuild. With
    `sentences`, every distinct sentence of the chunks gets a vector of its own too, for
    the answerer to score sentences by meaning (`Generation.sentence_similarity`).
    Nothing is visible to readers until the final `os.replace` of the pointer; a kill at
    any moment leaves the previous generation current.

    Raises:
        IndexBusy: another build holds the lock.
    """
    started = time.perf_counter()
    with build_lock(root):
        revision = store.revision  # read first: a write during the build makes us stale
        facts_revision = store.facts_revision
        replaced = embedder_change(root, embedder)
        rows = store.chunk_rows()
        texts, split = texts_to_embed(rows, sentences)
        size = batch if batch is not None else int(getattr(embedder, "batch_size", 16))
        # One pass over chunks and sentences, so progress counts every vector the build needs.
        vectors, embedded = _embed_all(store, embedder, texts + split, size, progress)
        vectors, sentence_vectors = vectors[: len(texts)], vectors[len(texts) :]
        name = f"gen-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-r{revision}"
        tmp = root / f".tmp-{name}"
        tmp.mkdir(parents=True)
        faiss_store.save(faiss_store.make_index(vectors, faiss_kind), tmp / "faiss.index")
        if texts:
            LexicalIndex.build(texts).save(tmp / "bm25")
        if sentences is not None:
            np.save(tmp / SENTENCE_VECTORS, sentence_vectors.astype(np.float16))
            keys = np.frombuffer(b"".join(text_key(t) for t in split), dtype=np.uint8)
            np.save(tmp / SENTENCE_KEYS, keys.reshape(len(split), 32))
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(_chunk_record(*row), ensure_ascii=False) + "\n")
        duplicates = find_duplicates(store.duplicate_inputs())
        (tmp / ARTICLES).write_text(json.dumps(_article_records(store, duplicates)))
        meta = {
            "embedder": embedder.name,
            "dim": embedder.dim,
            "revision": revision,
            "chunks": len(rows),
            "faiss": faiss_kind,
            "tokenizer": TOKENIZER_VERSION,
            "facts_revision": facts_revision,
            "duplicates": DUPLICATES_VERSION,
            "sentences": None if sentences is None else len(split),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        for file in tmp.rglob("*"):
            if file.is_file():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
        os.rename(tmp, root / name)
        pointer_tmp = root / f".{POINTER}.tmp"
        pointer_tmp.write_text(name + "\n")
        with pointer_tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, root / POINTER)
        _fsync_dir(root)
        # Stored once the generation serves, so the listing never runs ahead of the index.
        store.set_duplicates(duplicates)
        _prune(root, keep=name)
    seconds = time.perf_counter() - started
    logger.info("built %s: %d chunks, %d embedded, %.1f s", name, len(rows), embedded, seconds)
    return BuildReport(name, len(rows), embedded, seconds, len(split), replaced)


def _article_records(store: DocStore, duplicates: dict[str, str]) -> dict[str, dict[str, object]]:
    """Article id -> its event dates (ISO) and the original it duplicates, for articles
    that have either."""
    events = store.event_dates()
    return {
        article_id: {
            "event_dates": [d.isoformat() for d in events.get(article_id, ())],
            "duplicate_of": duplicates.get(article_id),
        }
        for article_id in sorted(events.keys() | duplicates.keys())
    }


def embedder_change(root: Path, embedder: Embedder) -> str | None:
    """The embedder id of the current generation when it is not `embedder`'s, else None.

    Vectors of two embedders are never mixed: a build always embeds with `embedder`, and
    the vector cache is keyed by embedder id, so a rebuild after a change reuses only
    vectors that `embedder` itself computed before (switching back costs no model time).
    """
    meta = generation_meta(root)
    built = None if meta is None else meta.get("embedder")
    if built is None or built == embedder.name:
        return None
    logger.warning(
        "the index was built with embedder %r; rebuilding it with %r (only vectors that "
        "%r computed before are reused)",
        built,
        embedder.name,
        embedder.name,
    )
    return str(built)


def texts_to_embed(
    rows: Sequence[tuple[Chunk, str, Any, Any, str]], sentences: Splitter | None
) -> tuple[list[str], list[str]]:
    """What a build embeds: each chunk with its title and heading, and each distinct sentence."""
    chunks = [embed_text(title, c.heading, c.text) for c, title, *_ in rows]
    return chunks, [] if sentences is None else distinct_sentences(rows, sentences)


def distinct_sentences(
    rows: Sequence[tuple[Chunk, str, Any, Any, str]], split: Splitter
) -> list[str]:
    """Every sentence of the chunks once (overlapping chunks share sentences)."""
    found = (c.text[start:end] for c, *_ in rows for start, end in split(c.text))
    return list(dict.fromkeys(s for s in found if s.strip()))


def _prune(root: Path, keep: str) -> None:
    """Delete unfinished builds and all but the newest generations."""
    for tmp in root.glob(".tmp-gen-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    generations = sorted(p for p in root.glob("gen-*") if p.is_dir())
    for old in generations[:-KEEP_GENERATIONS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def generation_meta(root: Path) -> dict[str, object] | None:
    """The current generation's meta.json, or None when there is no index."""
    name = current_name(root)
    if name is None:
        return None
    meta: dict[str, object] = json.loads((root / name / "meta.json").read_text())
    meta["name"] = name
    return meta
