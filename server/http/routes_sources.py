"""Admin endpoints for news sources: list, add, remove, refresh now (a job with progress).

The background refresher that `serve` runs in every worker is started from here too.
Request and response models live here rather than in schemas.py: only these routes use them.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from index.docstore import DocStore
from index.errors import IndexBusy
from index.sources_store import SourcesStore
from index.store import embedded
from ingest.errors import FetchError
from ingest.web.fetch import check_url
from server.http.deps import Admin, ServicesDep
from server.http.schemas import error_responses
from server.pipeline import BUILD_LOCK_WAIT_S, update_index
from server.sources import (
    DEFAULT_EVERY,
    SourceScheduler,
    fetcher_for,
    parse_every,
    refresh_many,
    source_json,
    web_ingest_for,
)
from server.wiring import Services

logger = logging.getLogger(__name__)
router = APIRouter(dependencies=[Admin])
ERRORS = error_responses(
    (401, "admin token required"),
    (403, "invalid token or admin disabled"),
    (404, "not a registered source"),
    (409, "a job is running"),
    (422, "not an http(s) URL, or a bad interval"),
)
# Failure lines a refresh job reports (the first ones; the count has them all).
MAX_FAILURE_LINES = 50


class SourceIn(BaseModel):
    """A source to register: a feed, sitemap or page URL and how often to refresh it."""

    url: str = Field(min_length=1, max_length=2000)
    every: str = Field(default=DEFAULT_EVERY, max_length=20, description="30m, 1h, 1d...")


class RefreshIn(BaseModel):
    """Which source to refresh now; none: every registered source."""

    url: str | None = Field(default=None, max_length=2000)


class SourceOut(BaseModel):
    """A registered source and its last refresh."""

    url: str
    every: str
    kind: str | None
    last_fetch: str | None
    status: str | None
    error: str | None
    counts: dict[str, Any]
    next_due: str | None


def _sources(services: Services) -> SourcesStore:
    return SourcesStore(embedded(services.store, "Sources over HTTP"))


def _update_job(services: Services) -> Any:
    """A job that brings the index up to date with the store (after a refresh)."""

    def run(progress: Any) -> dict[str, Any]:
        report = update_index(
            services.store,
            services.embedder,
            services.settings.index_dir,
            faiss_kind=services.settings.faiss_index,
            progress=progress,
            sentence_vectors=services.settings.sentence_vectors,
            lock_wait=BUILD_LOCK_WAIT_S,
        )
        return {"generation": report.generation if report else None}

    return run


@router.get("/api/sources", responses=ERRORS)
def list_sources(services: ServicesDep) -> dict[str, list[SourceOut]]:
    """Every registered source with its last fetch's time, status and counts."""
    return {"sources": [SourceOut(**source_json(s)) for s in _sources(services).all()]}


@router.post("/api/sources", status_code=201, responses=ERRORS)
def add_source(body: SourceIn, services: ServicesDep) -> dict[str, Any]:
    """Register a source (due at once: the background refresher or "refresh" fetches it).

    A registered URL keeps its history and gets the new interval (`"added": false`).
    """
    try:
        url = check_url(body.url)
        seconds = parse_every(body.every)
    except (FetchError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from exc
    sources = _sources(services)
    added = sources.add(url, seconds, time.time())
    source = sources.get(url)
    assert source is not None  # just written
    return {"added": added, "source": SourceOut(**source_json(source))}


@router.delete("/api/sources", responses=ERRORS)
def remove_source(
    services: ServicesDep, url: Annotated[str, Query(min_length=1, max_length=2000)]
) -> dict[str, str]:
    """Stop refreshing a source; the articles stored from it stay."""
    if not _sources(services).remove(url.strip()):
        raise HTTPException(404, f"{url}: not a registered source")
    return {"removed": url.strip()}


@router.post("/api/sources/refresh", responses=ERRORS)
def refresh_now(
    services: ServicesDep, body: Annotated[RefreshIn | None, Body()] = None
) -> dict[str, str]:
    """Refresh one source or all of them now, then update the index, as a job.

    Follow it with `GET /api/jobs/{id}`: `done`/`total` count the items of the source
    being read, then the index build; `counts` ends with added, updated, unchanged,
    failed and the first failure lines. 409 while another job runs.
    """
    registered = [s.url for s in _sources(services).all()]
    wanted = body.url.strip() if body and body.url else None
    if wanted is not None and wanted not in registered:
        raise HTTPException(404, f"{wanted}: not a registered source")
    urls = [wanted] if wanted else registered
    try:
        job = services.jobs.start("sources", _refresh_job(services, urls))
    except IndexBusy as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"job_id": job.id}


def _refresh_job(services: Services, urls: list[str]) -> Any:
    def run(progress: Any) -> dict[str, Any]:
        with fetcher_for(services.settings) as fetcher:
            store = embedded(services.store, "Sources over HTTP")
            web = web_ingest_for(services.settings, store, fetcher)
            result = refresh_many(web, urls, due_only=False, progress=progress)
        report = result.report
        counts: dict[str, Any] = {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "failed": len(report.failed),
            "failures": [f"{u}: {r}" for u, r in report.failed[:MAX_FAILURE_LINES]],
            "sources": result.sources,
        }
        if report.changed:
            counts.update(_update_job(services)(progress))
        return counts

    return run


def start_refresher(services: Services) -> SourceScheduler | None:
    """Start refreshing due sources in the background (None when CLUSTERCHAT_SOURCES_POLL=0).

    After a refresh that changed articles, an index update runs (or is queued behind the
    running job) in this worker.
    """
    settings = services.settings
    if settings.sources_poll <= 0:
        return None
    if not isinstance(services.store, DocStore):
        logger.warning("sources are kept in the embedded store only: no background refresh")
        return None
    web = web_ingest_for(settings, services.store, fetcher_for(settings))

    def changed() -> None:
        services.jobs.start_or_queue("update", _update_job(services))

    scheduler = SourceScheduler(web, settings.sources_poll, changed)
    scheduler.start()
    return scheduler
