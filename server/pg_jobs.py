"""Background jobs in a Postgres table: any server may receive a job, one server claims
it (`FOR UPDATE SKIP LOCKED`) and runs it, and every server reports its progress."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from index.backends.postgres import PgStore
from index.errors import IndexBusy
from server.jobs import KEEP_JOBS, Job, JobFn

logger = logging.getLogger(__name__)

POLL_S = 0.2  # how often an idle server looks for queued jobs
# A running job whose server has not written its progress for this long is taken as dead.
STALE_S = 120
RECOVER_EVERY_S = 30
JOBS_LOCK = 0x6A6F6273  # "jobs": serialises the queue checks of start and start_or_queue
COLUMNS = "id, kind, state, done, total, counts, errors"


class PgJobRunner:
    """Runs queued jobs of the kinds this server knows (`handle`), one at a time."""

    def __init__(self, store: PgStore) -> None:
        self._store = store
        self.owner = uuid.uuid4().hex[:12]
        self._handlers: dict[str, JobFn] = {}
        self._mine: set[str] = set()  # jobs this process queued, for `wait`
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False
        self._lock = threading.Lock()

    def handle(self, kind: str, fn: JobFn) -> None:
        """Run queued jobs of `kind` with `fn` (from whichever server queued them)."""
        with self._lock:
            self._handlers[kind] = fn
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="pg-jobs")
                self._thread.start()
        self._wake.set()

    def recover(self) -> None:
        """Mark jobs whose server stopped writing progress as failed."""
        self._store.db.get().execute(
            "UPDATE jobs SET state='failed', errors=%s, updated_at=now()"
            " WHERE state='running' AND updated_at < now() - make_interval(secs => %s)",
            (
                json.dumps(["interrupted: the server stopped during the job; start it again"]),
                STALE_S,
            ),
        )

    def busy(self) -> bool:
        """True while this server runs a job."""
        return self._active

    def _queue(self, kind: str, fn: JobFn, *, coalesce: bool) -> tuple[Job, bool]:
        self.handle(kind, fn)
        with self._store.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (JOBS_LOCK,))
            states = dict(
                conn.execute(
                    "SELECT state, min(id) FROM jobs WHERE state IN ('queued', 'running')"
                    " GROUP BY state"
                ).fetchall()
            )
            if not coalesce and states:
                raise IndexBusy("a re-index job is already running; wait for it to finish")
            if coalesce and "queued" in states:
                job = self._row(conn, states["queued"])
                return job, True
            job = Job(id=uuid.uuid4().hex[:12], kind=kind)
            conn.execute(
                "INSERT INTO jobs(id, kind, state) VALUES (%s, %s, 'queued')", (job.id, kind)
            )
            conn.execute(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND id NOT IN"
                " (SELECT id FROM jobs ORDER BY updated_at DESC LIMIT %s)",
                (KEEP_JOBS,),
            )
        self._mine.add(job.id)
        self._wake.set()
        return job, "running" in states

    def start(self, kind: str, fn: JobFn) -> Job:
        """Queue `fn` for the first free server.

        Raises:
            IndexBusy: a job is already queued or running on any server.
        """
        return self._queue(kind, fn, coalesce=False)[0]

    def start_or_queue(self, kind: str, fn: JobFn) -> tuple[Job, bool]:
        """Queue `fn`, or join the job already queued (which reads the store after this
        write); whether a job was running meanwhile."""
        return self._queue(kind, fn, coalesce=True)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the jobs this process queued have ended (on whichever server)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._mine:
            rows = self._store.db.get().execute(
                "SELECT id FROM jobs WHERE id = ANY(%s) AND state IN ('queued', 'running')",
                (list(self._mine),),
            )
            self._mine = {r[0] for r in rows}
            if not self._mine or (deadline is not None and time.monotonic() >= deadline):
                return
            time.sleep(0.05)

    def close(self) -> None:
        """Stop claiming jobs (a running one finishes first)."""
        self._stop.set()
        self._wake.set()

    def _claim(self) -> tuple[Job, JobFn] | None:
        with self._lock:
            kinds = list(self._handlers)
        row = (
            self._store.db.get()
            .execute(
                "UPDATE jobs SET state='running', owner=%s, updated_at=now() WHERE id ="
                " (SELECT id FROM jobs WHERE state='queued' AND kind = ANY(%s)"
                "  ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                f" RETURNING {COLUMNS}",
                (self.owner, kinds),
            )
            .fetchone()
        )
        if row is None:
            return None
        job = _job(row)
        return job, self._handlers[job.kind]

    def _loop(self) -> None:
        last_recover = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_recover > RECOVER_EVERY_S:
                    self.recover()
                    last_recover = time.monotonic()
                claimed = self._claim()
            except Exception:  # the database may be away for a moment: retry
                logger.exception("cannot read the job queue")
                claimed = None
            if claimed is None:
                self._wake.wait(POLL_S)
                self._wake.clear()
                continue
            self._active = True
            try:
                self._run(*claimed)
            finally:
                self._active = False

    def _run(self, job: Job, fn: JobFn) -> None:
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

    def _save(self, job: Job) -> None:
        self._store.db.get().execute(
            "UPDATE jobs SET state=%s, done=%s, total=%s, counts=%s, errors=%s, updated_at=now()"
            " WHERE id=%s",
            (
                job.state,
                job.done,
                job.total,
                json.dumps(job.counts),
                json.dumps(job.errors),
                job.id,
            ),
        )

    def _row(self, conn: Any, job_id: str) -> Job:
        row = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE id=%s", (job_id,)).fetchone()
        return _job(row)

    def get(self, job_id: str) -> Job | None:
        """A job by id, whichever server queued or runs it."""
        row = (
            self._store.db.get()
            .execute(f"SELECT {COLUMNS} FROM jobs WHERE id=%s", (job_id,))
            .fetchone()
        )
        return None if row is None else _job(row)


def _job(row: Any) -> Job:
    return Job(row[0], row[1], row[2], row[3], row[4], dict(row[5]), list(row[6]))
