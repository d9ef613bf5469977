"""Admin endpoints: list, upload and delete documents; start and follow re-index jobs."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse

from index.errors import IndexBusy
from ingest.errors import UnsupportedFormat
from ingest.parse import sniff_kind
from server.http.deps import Admin, ServicesDep
from server.http.schemas import DocumentOut, JobOut, error_responses
from server.http.upload_names import Clash, OnConflict, upload_target
from server.pipeline import BUILD_LOCK_WAIT_S, IngestReport, ingest_file, update_index
from server.wiring import Services

logger = logging.getLogger(__name__)
router = APIRouter(dependencies=[Admin])
ERRORS = error_responses(
    (400, "malformed multipart upload"),
    (401, "admin token required"),
    (403, "invalid token or admin disabled"),
    (404, "not found"),
    (409, "a job is running, or an upload's name clashes with another stored article"),
    (413, "file too large"),
    (415, "unsupported file type"),
)
_SAFE_NAME = re.compile(r"[^\w.\-]+")


def index_job(services: Services, force: bool) -> Any:
    def run(progress: Any) -> dict[str, Any]:
        # Another process (the CLI, another worker) may hold the build lock: wait for it
        # rather than fail, or the writes this job is for would stay unindexed.
        report = update_index(
            services.store,
            services.embedder,
            services.index,
            force=force,
            progress=progress,
            sentence_vectors=services.settings.sentence_vectors,
            lock_wait=BUILD_LOCK_WAIT_S,
        )
        if report is None:
            return {"generation": None, "chunks": 0, "sentences": 0, "embedded": 0}
        return {
            "generation": report.generation,
            "chunks": report.chunks,
            "sentences": report.sentences,
            "embedded": report.embedded,
        }

    return run


@router.get("/api/documents", responses=ERRORS)
def list_documents(services: ServicesDep) -> dict[str, list[DocumentOut]]:
    """Every stored article, with its event dates and the original it republishes."""
    store = services.store
    articles = store.articles()
    events = store.event_dates()
    duplicates = store.duplicates()
    return {
        "documents": [
            DocumentOut(
                id=a.id,
                title=a.title,
                url=a.url,
                date=a.published,
                source=a.source,
                chunks=a.chunks,
                event_dates=list(events.get(a.id, ())),
                duplicate_of=duplicates.get(a.id),
            )
            for a in articles
        ]
    }


@router.delete("/api/documents/{article_id}", responses=ERRORS)
def delete_document(article_id: str, services: ServicesDep) -> dict[str, Any]:
    """Delete an article; the index is updated in the background.

    While a job runs, the update is queued to run after it (`"queued": true`).
    """
    services.store.delete(article_id)
    return {"deleted": article_id, **_update_index(services)}


def _update_index(services: Services) -> dict[str, Any]:
    """Start an index update, or queue it behind the running job; the reply's fields."""
    job, queued = services.jobs.start_or_queue("update", index_job(services, force=False))
    return {"job_id": job.id, "queued": queued}


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


class _Rejected(Exception):
    """An uploaded file refused before anything was saved."""

    def __init__(self, name: str, status: int, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.status, self.reason = name, status, reason


def _read_upload(upload: UploadFile, limit: int) -> tuple[str, bytes]:
    """The upload's safe file name and bytes, checked by content and size (nothing saved).

    Raises:
        _Rejected: an unsupported type (415) or a file over the limit (413).
    """
    name = _SAFE_NAME.sub("_", Path(upload.filename or "upload").name).strip("._") or "upload"
    head = upload.file.read(1024)
    try:
        sniff_kind(Path(name), head)
    except UnsupportedFormat as exc:
        raise _Rejected(name, 415, str(exc).removeprefix(f"{name}: ")) from exc
    data = head + upload.file.read(limit + 1 - len(head))
    if len(data) > limit:
        raise _Rejected(name, 413, f"larger than the upload limit of {_size(limit)}")
    return name, data


@contextmanager
def _uploads_locked(folder: Path) -> Iterator[None]:
    """Hold the uploads folder's lock: one upload at a time saves and stores its files,
    in every worker, so a file on disk and its stored article always match."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save(name: str, data: bytes, folder: Path) -> Path:
    target = folder / name
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return target


def _restore(target: Path, previous: bytes | None) -> None:
    """Put back the file an upload replaced (or remove the new one): the store has it so."""
    if previous is None:
        target.unlink(missing_ok=True)
    else:
        _save(target.name, previous, target.parent)


def _stored(report: IngestReport) -> int:
    return report.added + report.updated + report.unchanged


def _store_upload(target: Path, data: bytes, services: Services, report: IngestReport) -> None:
    """Save one file under uploads/ and store its articles; a file that stores no article
    (it fails to parse, every JSONL line fails, the store is busy) leaves uploads/ as it was."""
    settings = services.settings
    name = target.name
    previous = target.read_bytes() if target.is_file() else None
    before = _stored(report)
    _save(name, data, settings.uploads_dir)
    try:
        ingest_file(target, services.store, report, settings.chunk_chars, settings.chunk_overlap)
    except sqlite3.OperationalError as exc:  # locked past the busy timeout: nothing stored
        logger.warning("upload %s not stored: %s", name, exc)
        report.failed.append((str(target), "the store is busy; nothing was stored, try again"))
    except BaseException:
        _restore(target, previous)
        raise
    if _stored(report) == before:
        _restore(target, previous)


@router.post("/api/documents", response_model=None, responses=ERRORS)
def upload_documents(
    files: Annotated[list[UploadFile], File(description="Articles: .html .pdf .txt .md .jsonl")],
    services: ServicesDep,
    on_conflict: Annotated[
        OnConflict | None,
        Query(
            description="When a file's name matches a stored upload with other content: "
            "`replace` it, or `keep` both (the new file is saved under a suffixed name). "
            "Unset: the file is refused and listed under `conflicts`."
        ),
    ] = None,
) -> dict[str, Any] | JSONResponse:
    """Store uploaded articles (checked by content, size-limited), then update the index.

    A refused or unparsable file is listed under `failed` with its reason and the others
    are stored; only when nothing is stored is the reply an error (413, 415, 409 or 422),
    whose body lists the files under `failed` too. A file whose name matches a stored
    upload with different bytes is refused unless `on_conflict` says what to do: it is
    listed under `conflicts` with the stored article's id and title (409 when it is
    the only file). Identical bytes are "unchanged".
    """
    settings = services.settings
    accepted: list[tuple[str, bytes]] = []
    rejected: list[_Rejected] = []
    for upload in files:
        try:
            accepted.append(_read_upload(upload, settings.upload_max_bytes))
        except _Rejected as exc:
            rejected.append(exc)
    if rejected and not accepted:
        statuses = {r.status for r in rejected}
        status = statuses.pop() if len(statuses) == 1 else 422
        return _nothing_stored(status, [(r.name, r.reason) for r in rejected])
    report = IngestReport()
    clashes: list[Clash] = []
    with _uploads_locked(settings.uploads_dir):
        for name, data in accepted:
            target = upload_target(name, data, settings.uploads_dir, services.store, on_conflict)
            if isinstance(target, Clash):
                clashes.append(target)
            else:
                _store_upload(target, data, services, report)
    failed = [(r.name, r.reason) for r in rejected]
    failed += [(c.file, c.reason) for c in clashes]
    failed += [(Path(f).name, r) for f, r in report.failed]
    if failed and not _stored(report):
        status = 409 if len(clashes) == len(failed) else 422
        return _nothing_stored(status, failed, clashes)
    index = _update_index(services) if report.changed else {"job_id": None, "queued": False}
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": [{"file": name, "reason": reason} for name, reason in failed],
        "conflicts": [c.to_json() for c in clashes],
        **index,
    }


def _nothing_stored(
    status: int, failed: list[tuple[str, str]], clashes: list[Clash] | None = None
) -> JSONResponse:
    detail = "; ".join(f"{name}: {reason}" for name, reason in failed)
    listed = [{"file": name, "reason": reason} for name, reason in failed]
    body = {"detail": detail, "failed": listed, "conflicts": [c.to_json() for c in clashes or []]}
    return JSONResponse(body, status_code=status)


@router.post("/api/reindex", responses=ERRORS)
def reindex(services: ServicesDep) -> dict[str, str]:
    """Start a full re-index in the background; 409 while another runs."""
    try:
        job = services.jobs.start("reindex", index_job(services, force=True))
    except IndexBusy as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"job_id": job.id}


@router.get("/api/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
def get_job(job_id: str, services: ServicesDep) -> JobOut:
    """A job's state and progress."""
    job = services.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job with id {job_id!r}")
    return JobOut(
        id=job.id,
        kind=job.kind,
        state=job.state,  # type: ignore[arg-type]
        done=job.done,
        total=job.total,
        counts=job.counts,
        errors=job.errors,
    )
