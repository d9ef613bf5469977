"""Admin endpoints: list, upload and delete documents; start and follow re-index jobs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile

from index.errors import IndexBusy
from ingest.errors import UnsupportedFormat
from ingest.parse import sniff_kind
from server.http.deps import Admin, ServicesDep
from server.http.schemas import DocumentOut, JobOut, error_responses
from server.pipeline import IngestReport, ingest_file, update_index
from server.wiring import Services

logger = logging.getLogger(__name__)
router = APIRouter(dependencies=[Admin])
ERRORS = error_responses(
    (400, "malformed multipart upload"),
    (401, "admin token required"),
    (403, "invalid token or admin disabled"),
    (404, "not found"),
    (409, "a job is running"),
    (413, "file too large"),
    (415, "unsupported file type"),
)
_SAFE_NAME = re.compile(r"[^\w.\-]+")


def _index_job(services: Services, force: bool) -> Any:
    def run(progress: Any) -> dict[str, Any]:
        report = update_index(
            services.store,
            services.embedder,
            services.settings.index_dir,
            faiss_kind=services.settings.faiss_index,
            force=force,
            progress=progress,
            sentence_vectors=services.settings.sentence_vectors,
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
    """Every stored article."""
    return {
        "documents": [
            DocumentOut(
                id=a.id,
                title=a.title,
                url=a.url,
                date=a.published,
                source=a.source,
                chunks=a.chunks,
            )
            for a in services.store.articles()
        ]
    }


@router.delete("/api/documents/{article_id}", responses=ERRORS)
def delete_document(article_id: str, services: ServicesDep) -> dict[str, Any]:
    """Delete an article; the index is updated in the background."""
    services.store.delete(article_id)
    job_id = _try_start(services, "update")
    return {"deleted": article_id, "job_id": job_id}


def _try_start(services: Services, kind: str) -> str | None:
    """Start an index update; when one runs, the change waits for the next re-index."""
    try:
        return services.jobs.start(kind, _index_job(services, force=False)).id
    except IndexBusy:
        return None


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _read_upload(upload: UploadFile, limit: int) -> tuple[str, bytes]:
    """The upload's safe file name and bytes, checked by content and size (nothing saved)."""
    name = _SAFE_NAME.sub("_", Path(upload.filename or "upload").name).strip("._") or "upload"
    head = upload.file.read(1024)
    try:
        sniff_kind(Path(name), head)
    except UnsupportedFormat as exc:
        raise HTTPException(415, str(exc)) from exc
    data = head + upload.file.read(limit + 1 - len(head))
    if len(data) > limit:
        raise HTTPException(413, f"{name}: larger than the upload limit of {_size(limit)}")
    return name, data


def _save(name: str, data: bytes, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


@router.post("/api/documents", responses=ERRORS)
def upload_documents(
    files: Annotated[list[UploadFile], File(description="Articles: .html .pdf .txt .md .jsonl")],
    services: ServicesDep,
) -> dict[str, Any]:
    """Store uploaded articles (checked by content, size-limited), then update the index."""
    settings = services.settings
    # Every file is checked before any is stored: a rejected upload stores nothing.
    checked = [_read_upload(f, settings.upload_max_bytes) for f in files]
    saved = [_save(name, data, settings.uploads_dir) for name, data in checked]
    report = IngestReport()
    for path in saved:
        ingest_file(path, services.store, report, settings.chunk_chars, settings.chunk_overlap)
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise HTTPException(422, "; ".join(f"{Path(f).name}: {r}" for f, r in report.failed))
    job_id = _try_start(services, "update") if report.changed else None
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": [{"file": Path(f).name, "reason": r} for f, r in report.failed],
        "job_id": job_id,
    }


@router.post("/api/reindex", responses=ERRORS)
def reindex(services: ServicesDep) -> dict[str, str]:
    """Start a full re-index in the background; 409 while another runs."""
    try:
        job = services.jobs.start("reindex", _index_job(services, force=True))
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
