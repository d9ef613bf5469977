"""SQLite store of articles, chunks, source-file fingerprints and cached embeddings."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from index import facts_store, sources_store
from index.duplicates import DuplicateInput
from index.errors import NotFound
from index.types import Vectors
from ingest.facts.types import Facts
from ingest.types import Article, Chunk, Section

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, url TEXT, title TEXT NOT NULL,
    published TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL,
    sections TEXT NOT NULL DEFAULT '[]', pages TEXT NOT NULL DEFAULT '[]',
    chunking TEXT NOT NULL DEFAULT '', file TEXT, updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS articles_file ON articles(file);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    heading TEXT, page INTEGER, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id, ordinal);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (embedder, key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS duplicates (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    duplicate_of TEXT NOT NULL
);
"""

# The fingerprint a file gets when one of its articles is deleted: it matches no file's
# bytes, so the next ingest of that file parses it again and adds the article back.
FORGOTTEN = ""
# Milliseconds a write waits for another connection's (thread's or process's) transaction.
BUSY_TIMEOUT_MS = 30_000

# Columns added after the first release: a store written by an older version gets them
# on open (SQLite adds a column with its default without rewriting the table).
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("articles", "chunking", "TEXT NOT NULL DEFAULT ''"),
)


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    """An article's listing row, without its text."""

    id: str
    title: str
    url: str | None
    published: date | None
    source: str
    chunks: int


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class DocStore:
    """Articles and chunks in one SQLite file; every write is one transaction.

    A change bumps `revision`, which index generations record so that a reader can
    tell whether the index is behind the store.
    """

    def __init__(self, path: Path) -> None:
        # Facts read by `facts()`, valid while the facts stamp is the one they were read at.
        self._facts_cache: tuple[tuple[str, str], dict[str, Facts | None]] = (("", ""), {})
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread: a sqlite3 connection holds one transaction at a time,
        # so threads sharing one would nest BEGINs. SQLite itself (WAL, busy timeout)
        # serialises the writers of every thread and process.
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()
        self._db.executescript(SCHEMA)
        self._migrate()

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        thread = threading.current_thread()
        db = self._connections.get(thread)
        if db is None:
            db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            with self._lock:
                # Threads come and go (a job's thread, say): close what the dead ones left.
                for gone in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(gone).close()
                self._connections[thread] = db
        return db

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for reads by the tables that share the file (sources)."""
        return self._db

    def _migrate(self) -> None:
        with self.transaction() as db:
            for table, column, ddl in ADDED_COLUMNS:
                present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")
            facts_store.create_tables(db)
            sources_store.create_tables(db)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for db in connections:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all.

        `BEGIN IMMEDIATE` takes the write lock at once, waiting up to the busy timeout
        for a writer in another thread or process.
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- revision -------------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """A counter that grows with every change to articles or chunks."""
        row = self._db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        return int(row[0]) if row else 0

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES('revision', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- files ----------------------------------------------------------------------------
    def fingerprint(self, path: str) -> str | None:
        """The fingerprint recorded when `path` was last ingested."""
        row = self._db.execute("SELECT fingerprint FROM files WHERE path=?", (path,)).fetchone()
        return row[0] if row else None

    def article_count_for_file(self, path: str) -> int:
        """How many stored articles came from `path`."""
        row = self._db.execute("SELECT COUNT(*) FROM articles WHERE file=?", (path,)).fetchone()
        return int(row[0])

    def articles_of_file(self, path: str) -> list[tuple[str, str]]:
        """(id, title) of each stored article that came from `path`, in id order."""
        rows = self._db.execute("SELECT id, title FROM articles WHERE file=? ORDER BY id", (path,))
        return [(r[0], r[1]) for r in rows]

    def file_paths(self) -> list[str]:
        """Every source file path that produced stored articles."""
        return [r[0] for r in self._db.execute("SELECT path FROM files ORDER BY path")]

    # -- articles -------------------------------------------------------------------------
    def put_file(
        self,
        path: str,
        fingerprint: str,
        articles: Sequence[tuple[Article, Sequence[Chunk]]],
        chunking: str = "",
        *,
        facts: Mapping[str, Facts] | None = None,
        keep_missing: bool = False,
    ) -> dict[str, str]:
        """Store the articles parsed from one file, replacing changed ones whole.

        An article is unchanged when its content hash and the `chunking` settings that
        cut its chunks are both the same as stored. Articles the file produced before but
        no longer does are removed, unless `keep_missing` (some of the file's lines failed
        to parse: an article on such a line keeps its stored version until it parses).

        `facts` (article id -> extracted facts) are stored in the same transaction, for
        added and updated articles and for unchanged ones whose facts version differs.

        Returns:
            article id -> "added" | "updated" | "unchanged" | "removed".
        """
        outcome: dict[str, str] = {}
        with self.transaction() as db:
            before = {r[0] for r in db.execute("SELECT id FROM articles WHERE file=?", (path,))}
            for article, chunks in articles:
                outcome[article.id] = self._put(db, article, chunks, path, chunking)
            for gone in set() if keep_missing else before - outcome.keys():
                db.execute("DELETE FROM articles WHERE id=?", (gone,))
                outcome[gone] = "removed"
            db.execute(
                "INSERT OR REPLACE INTO files(path, fingerprint) VALUES(?, ?)", (path, fingerprint)
            )
            self._put_facts(db, articles, outcome, facts or {})
            if any(v != "unchanged" for v in outcome.values()):
                self._bump(db)
        return outcome

    def _put(
        self,
        db: sqlite3.Connection,
        article: Article,
        chunks: Sequence[Chunk],
        path: str,
        chunking: str,
    ) -> str:
        row = db.execute(
            "SELECT content_hash, chunking FROM articles WHERE id=?", (article.id,)
        ).fetchone()
        if row and row[0] == article.content_hash and row[1] == chunking:
            db.execute(
                "UPDATE articles SET file=?, source=? WHERE id=?",
                (path, article.source, article.id),
            )
            return "unchanged"
        db.execute("DELETE FROM articles WHERE id=?", (article.id,))
        db.execute(
            "INSERT INTO articles(id, source, url, title, published, text, content_hash,"
            " sections, pages, chunking, file) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.id,
                article.source,
                article.url,
                article.title,
                article.published.isoformat() if article.published else None,
                article.text,
                article.content_hash,
                json.dumps([[s.start, s.title] for s in article.sections]),
                json.dumps(list(article.pages)),
                chunking,
                path,
            ),
        )
        db.executemany(
            'INSERT INTO chunks(id, article_id, ordinal, start, "end", heading, page, text)'
            " VALUES(?,?,?,?,?,?,?,?)",
            [
                (c.id, c.article_id, c.ordinal, c.start, c.end, c.heading, c.page, c.text)
                for c in chunks
            ],
        )
        return "updated" if row else "added"

    def _put_facts(
        self,
        db: sqlite3.Connection,
        articles: Sequence[tuple[Article, Sequence[Chunk]]],
        outcome: Mapping[str, str],
        facts: Mapping[str, Facts],
    ) -> None:
        for article, _chunks in articles:
            found = facts.get(article.id)
            if found is None:
                continue
            if (
                outcome[article.id] != "unchanged"
                or facts_store.stored_version(db, article.id) != found.version
            ):
                facts_store.write(db, found, article.text)

    def delete(self, article_id: str) -> None:
        """Remove one article and its chunks, and forget its file's fingerprint.

        Ingesting the same file again then parses it and adds the article back.

        Raises:
            NotFound: no article has that id.
        """
        with self.transaction() as db:
            row = db.execute("SELECT file FROM articles WHERE id=?", (article_id,)).fetchone()
            if row is None:
                raise NotFound(f"no article with id {article_id!r}")
            db.execute("DELETE FROM articles WHERE id=?", (article_id,))
            if row[0] is not None:
                db.execute("UPDATE files SET fingerprint=? WHERE path=?", (FORGOTTEN, row[0]))
            self._bump(db)

    def forget_file(self, path: str) -> list[str]:
        """Remove a source file's record and every article it produced."""
        with self.transaction() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM articles WHERE file=?", (path,))]
            db.execute("DELETE FROM articles WHERE file=?", (path,))
            db.execute("DELETE FROM files WHERE path=?", (path,))
            if ids:
                self._bump(db)
        return ids

    def get(self, article_id: str) -> Article:
        """One stored article, text included.

        Raises:
            NotFound: no article has that id.
        """
        row = self._db.execute(
            "SELECT id, source, title, text, url, published, content_hash, sections, pages"
            " FROM articles WHERE id=?",
            (article_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no article with id {article_id!r}")
        return Article(
            id=row[0],
            source=row[1],
            title=row[2],
            text=row[3],
            url=row[4],
            published=_date(row[5]),
            content_hash=row[6],
            sections=tuple(Section(s, t) for s, t in json.loads(row[7])),
            pages=tuple(json.loads(row[8])),
        )

    def chunks(self, article_id: str) -> tuple[Chunk, ...]:
        """One article's stored chunks, in order (none for an unknown id)."""
        rows = self._db.execute(
            'SELECT id, article_id, ordinal, text, start, "end", heading, page FROM chunks'
            " WHERE article_id=? ORDER BY ordinal",
            (article_id,),
        )
        return tuple(Chunk(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows)

    def articles(self) -> list[ArticleInfo]:
        """Every stored article, newest first."""
        rows = self._db.execute(
            "SELECT a.id, a.title, a.url, a.published, a.source, COUNT(c.id) FROM articles a"
            " LEFT JOIN chunks c ON c.article_id = a.id GROUP BY a.id"
            " ORDER BY a.published DESC, a.title"
        )
        return [ArticleInfo(r[0], r[1], r[2], _date(r[3]), r[4], r[5]) for r in rows]

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) stored."""
        # One statement, one snapshot: a write between two counts would mismatch them.
        n_articles, n_chunks = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM chunks)"
        ).fetchone()
        return int(n_articles), int(n_chunks)

    def chunk_rows(self) -> list[tuple[Chunk, str, str | None, date | None, str]]:
        """Every chunk with its article's title, url, date and source, in a stable order."""
        rows = self._db.execute(
            'SELECT c.id, c.article_id, c.ordinal, c.text, c.start, c."end", c.heading, c.page,'
            " a.title, a.url, a.published, a.source FROM chunks c"
            " JOIN articles a ON a.id = c.article_id ORDER BY c.article_id, c.ordinal"
        )
        return [
            (Chunk(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]), r[8], r[9], _date(r[10]), r[11])
            for r in rows
        ]

    # -- near-duplicates ------------------------------------------------------------------
    def duplicate_inputs(self) -> list[DuplicateInput]:
        """What near-duplicate detection reads of every article (index/duplicates.py)."""
        rows = self._db.execute("SELECT id, text, published FROM articles ORDER BY id")
        return [DuplicateInput(r[0], r[1], _date(r[2])) for r in rows]

    def set_duplicates(self, duplicates: Mapping[str, str]) -> None:
        """Replace the near-duplicate groups: article id -> its group's original id."""
        with self.transaction() as db:
            db.execute("DELETE FROM duplicates")
            db.executemany(
                "INSERT INTO duplicates(article_id, duplicate_of) SELECT id, ? FROM articles"
                " WHERE id=?",
                [(original, article_id) for article_id, original in duplicates.items()],
            )

    def duplicates(self) -> dict[str, str]:
        """Article id -> the original it republishes, as the last index build found them."""
        rows = self._db.execute(
            "SELECT d.article_id, d.duplicate_of FROM duplicates d"
            " JOIN articles a ON a.id = d.duplicate_of"
        )
        return {r[0]: r[1] for r in rows}

    # -- embedding cache ------------------------------------------------------------------
    def cached_vectors(self, embedder: str, keys: Sequence[str]) -> dict[str, Vectors]:
        """The cached vectors among `keys` for this embedder."""
        found: dict[str, Vectors] = {}
        for i in range(0, len(keys), 500):
            batch = list(keys[i : i + 500])
            marks = ",".join("?" * len(batch))
            for key, blob in self._db.execute(
                f"SELECT key, vector FROM embeddings WHERE embedder=? AND key IN ({marks})",
                [embedder, *batch],
            ):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_vectors(self, embedder: str, keys: Sequence[str], vectors: Vectors) -> None:
        """Remember vectors by content key, committed at once so a crash keeps them."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings(embedder, key, vector) VALUES(?,?,?)",
                [
                    (embedder, k, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                    for k, v in zip(keys, vectors, strict=True)
                ],
            )

    # -- facts ----------------------------------------------------------------------------
    def facts(self, article_ids: Iterable[str]) -> dict[str, Facts]:
        """The stored facts of those of `article_ids` that have some.

        Cheap enough to call per question: facts read once are kept until any article or
        facts change (one small query checks that), in this and every other process.
        """
        ids = facts_store.ids_of(article_ids)
        now = facts_store.stamp(self._db)
        stamp, cache = self._facts_cache
        if stamp != now:
            cache = {}
            self._facts_cache = (now, cache)
        missing = [i for i in ids if i not in cache]
        if missing:
            found = facts_store.read(self._db, missing)
            for article_id in missing:
                cache[article_id] = found.get(article_id)
        return {i: f for i in ids if (f := cache.get(i)) is not None}

    def put_facts(self, facts: Facts, content_hash: str | None = None) -> bool:
        """Store (or replace) one article's facts.

        With `content_hash`, only while the stored article still has that hash, so facts
        computed from a text that was replaced meanwhile are not stored.

        Returns:
            Whether the facts were stored (False: no such article, or another text).

        Raises:
            ValueError: a span of `facts` lies outside the article's text.
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT text, content_hash FROM articles WHERE id=?", (facts.article_id,)
            ).fetchone()
            if row is None or (content_hash is not None and row[1] != content_hash):
                return False
            facts_store.write(db, facts, row[0])
        return True

    @property
    def facts_revision(self) -> int:
        """A counter that grows whenever stored facts change (index generations record it)."""
        return int(facts_store.stamp(self._db)[1])

    def event_dates(self) -> dict[str, tuple[date, ...]]:
        """Article id -> the dates of the events it reports, for articles with any."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM articles")]
        found = {i: f.event_dates() for i, f in self.facts(ids).items()}
        return {i: dates for i, dates in found.items() if dates}

    def stale_facts(self, version: str) -> list[str]:
        """Ids of the articles whose facts are missing or of another extractor version."""
        return facts_store.stale(self._db, version)

    def find_people(self, name: str) -> list[facts_store.PersonMention]:
        """Every person named in the stored facts whose name contains `name`.

        Accents, case, apostrophe kinds and runs of spaces are ignored on both sides.
        """
        return facts_store.find_people(self._db, name)
