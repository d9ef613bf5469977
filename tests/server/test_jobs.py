"""Background jobs: state in SQLite, one at a time, old finished jobs pruned."""

from __future__ import annotations

import sqlite3

from server import jobs
from server.jobs import JobRunner


def test_finished_jobs_beyond_the_newest_hundred_are_deleted(tmp_path):
    runner = JobRunner(tmp_path / "jobs.sqlite3")
    started = []
    for n in range(jobs.KEEP_JOBS + 5):
        job = runner.start("reindex", lambda _progress, n=n: {"n": n})
        runner.wait()
        started.append(job.id)
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        (rows,) = db.execute("SELECT count(*) FROM jobs").fetchone()
    db.close()
    assert rows == jobs.KEEP_JOBS
    assert runner.get(started[0]) is None  # the oldest are gone
    newest = runner.get(started[-1])
    assert newest is not None
    assert newest.state == "done"
    assert newest.counts == {"n": jobs.KEEP_JOBS + 4}


def test_a_running_job_is_never_pruned(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(jobs, "KEEP_JOBS", 1)
    runner = JobRunner(tmp_path / "jobs.sqlite3")
    release = threading.Event()
    first = runner.start("reindex", lambda _progress: {"ok": release.wait(10)})
    # Another runner (another server worker) starts and prunes while the first job runs.
    other = JobRunner(tmp_path / "jobs.sqlite3")
    for _ in range(3):
        other.start("reindex", lambda _progress: {})
        other.wait()
    assert runner.get(first.id) is not None
    release.set()
    runner.wait()
    assert runner.get(first.id).state == "done"
