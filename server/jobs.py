"""Background index jobs, one at a time, with their state kept in SQLite for every worker."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import IndexBusy

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,
    counts TEXT NOT NULL DEFAULT '{}', errors TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""
# Finished jobs kept for the API to report; older ones are deleted when a job starts.
KEEP_JOBS = 100
# Progress(done, total), called by the job as it goes.
JobFn = Callable[[Callable[[int, int], None]], dict[str, Any]]


@dataclass
class Job:
    """A job's state as the API reports it."""

    id: str
    kind: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class JobRunner:
    """Runs one job at a time on a background thread, with at most one follow-up queued.

    Job state lives in the data dir's SQLite file, so any server worker can report a
    job another worker started. A job that was running when its process died is
    reported as failed on the next start, and can simply be started again.
    """

    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(
            db_path, timeout=30, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()  # start() saves the new job while holding it
        self._thread: threading.Thread | None = None
        self._active = False  # a job of this process runs or is about to
        self._pending: tuple[Job, JobFn] | None = None  # the follow-up queued meanwhile

    def recover(self) -> None:
        """Mark jobs left running by a dead process as failed."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state='failed', errors=? WHERE state IN ('queued','running')",
                (json.dumps(["interrupted: the server stopped during the job; start it again"]),),
            )

    def handle(self, kind: str, fn: JobFn) -> None:
        """Nothing to register: a job runs in the process that starts it."""

    def close(self) -> None:
        """Nothing to stop: the job thread ends with its job."""

    def busy(self) -> bool:
        """True while a job of this process runs (or waits to follow the running one)."""
        return self._active

    def start(self, kind: str, fn: JobFn) -> Job:
        """Start `fn` in the background.

        Raises:
            IndexBusy: a job is already running in this process.
        """
        with self._lock:
            if self._active:
                raise IndexBusy("a re-index job is already running; wait for it to finish")
            return self._launch(Job(id=uuid.uuid4().hex[:12], kind=kind), fn)

    def start_or_queue(self, kind: str, fn: JobFn) -> tuple[Job, bool]:
        """Start `fn` now, or queue it to run once the running job ends.

        A write made while a job runs may come after the job read the store, so the
        follow-up is what indexes it. Writes during one job share one follow-up.

        Returns:
            The job, and whether it was queued behind a running one.
        """
        with self._lock:
            if not self._active:
                return self._launch(Job(id=uuid.uuid4().hex[:12], kind=kind), fn), False
            if self._pending is None:
                job = Job(id=uuid.uuid4().hex[:12], kind=kind)
                self._save(job)
                self._pending = (job, fn)
            return self._pending[0], True

    def _launch(self, job: Job, fn: JobFn) -> Job:
        with self._lock:
            self._active = True
            self._save(job)
            self._prune()
            self._thread = threading.Thread(
                target=self._work, args=(job, fn), daemon=True, name=f"job-{job.id}"
            )
            self._thread.start()
            return job

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running job (and the follow-up queued behind it) ends."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _work(self, job: Job, fn: JobFn) -> None:
        try:
            while True:
                self._run(job, fn)
                with self._lock:  # start_or_queue sees the follow-up either taken or unqueued
                    if self._pending is None:
                        self._active = False
                        return
                    job, fn = self._pending
                    self._pending = None
        except BaseException:
            with self._lock:  # the job state could not be saved: free the runner anyway
                self._active = False
                self._pending = None
            raise

    def _run(self, job: Job, fn: JobFn) -> None:
        job.state = "running"
        self._save(job)

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            self._save(job)

        try:
            job.counts = fn(progress)
            job.state = "done"
        except Exception as exc:  # a job must end in a state, whatever went wrong
            logger.exception("job %s failed", job.id)
            job.state = "failed"
            job.errors.append(str(exc))
        self._save(job)

    def _prune(self) -> None:
        """Delete finished jobs but the `KEEP_JOBS` most recently updated."""
        with self._lock:
            self._db.execute(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND id NOT IN"
                " (SELECT id FROM jobs ORDER BY rowid DESC LIMIT ?)",
                (KEEP_JOBS,),
            )

    def _save(self, job: Job) -> None:
        # INSERT OR REPLACE gives the row a new rowid: rowid order is update order.
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs(id, kind, state, done, total, counts, errors)"
                " VALUES(?,?,?,?,?,?,?)",
                (
                    job.id,
                    job.kind,
                    job.state,
                    job.done,
                    job.total,
                    json.dumps(job.counts),
                    json.dumps(job.errors),
                ),
            )

    def get(self, job_id: str) -> Job | None:
        """A job by id, from any worker."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, kind, state, done, total, counts, errors FROM jobs WHERE id=?",
                (job_id,),
            ).fetchone()
        if row is None:
            return None
        return Job(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), json.loads(row[6]))
