"""The benchmark corpora as files, and one timed ingest run."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.embedders import Embedder
from index.generations import texts_to_embed
from ingest.sentences import sentence_spans
from scripts.bench.common import DEMO_CORPUS, file_name
from server.pipeline import IngestReport, ingest_paths, update_index
from server.settings import Settings
from server.wiring import open_store

logger = logging.getLogger(__name__)


def load_documents(squad: Path) -> list[dict[str, str]]:
    """The squad documents, `{"id", "title", "text"}` per line."""
    lines = (squad / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_corpus(docs: Sequence[dict[str, str]], folder: Path, demo: bool) -> None:
    """Squad documents as .txt files with front matter (plus the demo corpus), and no others."""
    squad = folder / "squad"
    squad.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for doc in docs:
        title = " ".join(doc["title"].split())
        wanted[file_name(doc["id"])] = f"---\ntitle: {title}\n---\n{doc['text']}\n"
    for stale in squad.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    for name, content in wanted.items():
        path = squad / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
    if demo:
        shutil.copytree(DEMO_CORPUS, folder / "demo", dirs_exist_ok=True)
    elif (folder / "demo").exists():
        shutil.rmtree(folder / "demo")


class _Progress:
    """Logs build progress every tenth and remembers when embedding started and ended."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.step = -1
        self.first: float | None = None
        self.last: float | None = None

    def __call__(self, done: int, total: int) -> None:
        self.last = time.perf_counter()
        self.first = self.first or self.last
        if done // max(total // 10, 1) != self.step:
            self.step = done // max(total // 10, 1)
            logger.info("%s: %d/%d chunks have vectors", self.label, done, total)


@dataclass(frozen=True, slots=True)
class IngestRun:
    """One `ingest_paths` + `update_index` and where its time went."""

    report: IngestReport
    seconds: float
    store_s: float  # read, parse, chunk, SQLite
    index_s: float  # the whole build (0 when the index was current)
    embed_s: float  # inside the build: first to last progress call (cache lookups + model)


def ingest_run(
    folder: Path, settings: Settings, embedder: Embedder, label: str, prune: bool = False
) -> IngestRun:
    """`ingest_paths` + `update_index` over `folder`, as `clusterchat ingest` does."""
    store = open_store(settings)
    progress = _Progress(label)
    try:
        start = time.perf_counter()
        report = ingest_paths(
            [folder],
            store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
            do_prune=prune,
        )
        stored = time.perf_counter()
        report.index = update_index(
            store,
            embedder,
            settings.index_dir,
            faiss_kind=settings.faiss_index,
            progress=progress,
            sentence_vectors=settings.sentence_vectors,
        )
        end = time.perf_counter()
    finally:
        store.close()
    for file, reason in report.failed:
        logger.warning("%s: failed %s: %s", label, file, reason)
    embed_s = (progress.last - progress.first) if progress.first and progress.last else 0.0
    return IngestRun(report, end - start, stored - start, end - stored, embed_s)


def embed_texts(settings: Settings) -> list[str]:
    """Exactly the texts a build embeds for the stored chunks (and their sentences)."""
    store = open_store(settings)
    try:
        rows = store.chunk_rows()
    finally:
        store.close()
    chunks, sentences = texts_to_embed(rows, sentence_spans if settings.sentence_vectors else None)
    return chunks + sentences
