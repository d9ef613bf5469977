"""The ingest flow: files -> articles -> chunks -> SQLite, then a new index generation."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from index.backends.embedded import EmbeddedIndex
from index.embedder import Embedder
from index.errors import IndexBusy
from index.generations import BuildReport
from index.store import DocumentStore, Indexer
from ingest.chunk import chunk
from ingest.errors import IngestError
from ingest.parse import iter_files, parse_file
from ingest.sentences import sentence_spans
from server.extraction import facts_of, refresh_facts

logger = logging.getLogger(__name__)

# Bump when parsing or chunking changes, so unchanged files are parsed again once.
PARSER_VERSION = "1"
# How long a server job or a command waits for a build another process runs.
BUILD_LOCK_WAIT_S = 600.0
LOCK_POLL_S = 0.5


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did, per article, and the files (or lines) that failed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    index: BuildReport | None = None

    def count(self, outcome: str) -> None:
        """Add one article outcome ("added", "updated", "unchanged", "removed")."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def changed(self) -> bool:
        """True when the store changed."""
        return bool(self.added or self.updated or self.removed)


def chunking_key(chunk_chars: int, chunk_overlap: int) -> str:
    """Names the settings and code version that cut an article's chunks."""
    return f"{chunk_chars}/{chunk_overlap}/v{PARSER_VERSION}"


def fingerprint(data: bytes, chunk_chars: int, chunk_overlap: int) -> str:
    """Identifies a file's bytes and the settings that shaped its chunks."""
    digest = hashlib.sha256(data)
    digest.update(f"|{chunking_key(chunk_chars, chunk_overlap)}".encode())
    return digest.hexdigest()


def ingest_file(
    path: Path, store: DocumentStore, report: IngestReport, chunk_chars: int, chunk_overlap: int
) -> None:
    """Parse, chunk and store one file; a failure is recorded and stores nothing."""
    key = str(path.resolve())
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.failed.append((str(path), f"cannot read ({exc.strerror})"))
        return
    stamp = fingerprint(data, chunk_chars, chunk_overlap)
    if store.fingerprint(key) == stamp:
        for _ in range(store.article_count_for_file(key)):
            report.count("unchanged")
        return
    try:
        parsed = parse_file(path)
    except IngestError as exc:
        report.failed.append((str(path), str(exc).removeprefix(f"{path}: ")))
        logger.warning("skipped %s", exc)
        return
    pairs = [(a, chunk(a, chunk_chars, chunk_overlap)) for a in parsed.articles]
    for error in parsed.line_errors:
        report.failed.append((f"{path}:{error.line}", error.reason))
    # A file with bad lines is parsed again next time, so its errors are reported again;
    # until a bad line parses, the article it held keeps its stored version.
    outcome = store.put_file(
        key,
        "partial" if parsed.line_errors else stamp,
        pairs,
        chunking_key(chunk_chars, chunk_overlap),
        facts={a.id: f for a in parsed.articles if (f := facts_of(a)) is not None},
        keep_missing=bool(parsed.line_errors),
    )
    for article_id, what in outcome.items():
        report.count(what)
        logger.info("%s article %s from %s", what, article_id, path.name)


def prune(roots: Iterable[Path], store: DocumentStore, report: IngestReport) -> None:
    """Remove stored articles whose source file no longer exists under `roots`."""
    folders = [str(r.resolve()) for r in roots if r.is_dir()]
    for stored in store.file_paths():
        inside = any(stored.startswith(folder.rstrip("/") + "/") for folder in folders)
        if inside and not Path(stored).exists():
            for article_id in store.forget_file(stored):
                report.count("removed")
                logger.info("removed article %s (file %s is gone)", article_id, stored)


def ingest_paths(
    paths: list[Path],
    store: DocumentStore,
    *,
    chunk_chars: int,
    chunk_overlap: int,
    do_prune: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest files and folders (recursively) into the store.

    `progress(done, total)` is called once the files are listed and after each file.

    Raises:
        IngestError: a named path does not exist (nothing is ingested then).
    """
    files = list(iter_files(paths))
    report = IngestReport()
    if progress:
        progress(0, len(files))
    for done, path in enumerate(files, start=1):
        ingest_file(path, store, report, chunk_chars, chunk_overlap)
        if progress:
            progress(done, len(files))
    if do_prune:
        prune(paths, store, report)
    return report


def index_is_stale(
    store: DocumentStore, index: Path | Indexer, embedder: Embedder, sentence_vectors: bool = True
) -> bool:
    """True when the current index is missing, behind the store, or of another model,
    or lacks the sentence vectors asked for."""
    return indexer_of(index).is_stale(store, embedder, sentence_vectors)


def indexer_of(index: Path | Indexer, faiss_kind: str = "flat") -> Indexer:
    """`index` itself, or the embedded generations in the folder `index`."""
    return EmbeddedIndex(index, faiss_kind) if isinstance(index, Path) else index


def update_index(
    store: DocumentStore,
    embedder: Embedder,
    index: Path | Indexer,
    *,
    faiss_kind: str = "flat",
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sentence_vectors: bool = True,
    lock_wait: float = 0.0,
) -> BuildReport | None:
    """Build a new generation if the store changed since the current one (or if forced).

    With `sentence_vectors`, each sentence of the chunks (as `ingest.sentences` splits
    them, the same split the answerer quotes from) gets a vector too. First, facts that
    are missing or of another extractor version are recomputed (they need no new build).
    With `lock_wait`, a build that another thread or process runs is waited for, up to
    that many seconds.

    Raises:
        IndexBusy: another build still holds the lock after `lock_wait` seconds.
    """
    refresh_facts(store)
    indexer = indexer_of(index, faiss_kind)
    deadline = time.monotonic() + lock_wait
    while True:
        # Checked again after a wait: the other build may have indexed our change already.
        if not force and not indexer.is_stale(store, embedder, sentence_vectors):
            return None
        try:
            return indexer.build(
                store,
                embedder,
                progress=progress,
                sentences=sentence_spans if sentence_vectors else None,
            )
        except IndexBusy:
            if time.monotonic() >= deadline:
                raise
            logger.info("waiting for another index build to finish")
            time.sleep(LOCK_POLL_S)
