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


def test_a_job_asked_for_while_one_runs_is_queued_and_runs_after_it(tmp_path):
    import threading

    runner = JobRunner(tmp_path / "jobs.sqlite3")
    release = threading.Event()
    order: list[str] = []

    def first_fn(_progress):
        release.wait(10)
        order.append("first")
        return {}

    def follow_up(name):
        def run(_progress):
            order.append(name)
            return {"ran": name}

        return run

    first, queued = runner.start_or_queue("reindex", first_fn)
    assert queued is False
    second, queued = runner.start_or_queue("update", follow_up("second"))
    assert queued is True
    assert runner.get(second.id).state == "queued"
    third, queued = runner.start_or_queue("update", follow_up("third"))
    assert (third.id, queued) == (second.id, True)  # writes during one job share a follow-up
    assert runner.busy()
    release.set()
    runner.wait(30)
    assert order == ["first", "second"]
    assert runner.get(first.id).state == "done"
    assert runner.get(second.id).state == "done"
    assert runner.get(second.id).counts == {"ran": "second"}
    assert not runner.busy()
    fourth, queued = runner.start_or_queue("update", follow_up("fourth"))  # idle: runs at once
    assert queued is False
    runner.wait(30)
    assert runner.get(fourth.id).state == "done"
    assert order[-1] == "fourth"


def test_a_follow_up_is_never_lost_when_asked_for_as_the_job_ends(tmp_path):
    runner = JobRunner(tmp_path / "jobs.sqlite3")
    ran: list[str] = []
    asked: list[str] = []
    for n in range(200):
        job, _queued = runner.start_or_queue("update", lambda _p, n=n: ran.append(str(n)) or {})
        asked.append(job.id)
    runner.wait(60)
    assert not runner.busy()
    assert {runner.get(job_id).state for job_id in asked} == {"done"}
