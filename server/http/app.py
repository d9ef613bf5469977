"""The FastAPI app factory: routes, pages, error mapping, metrics and request logging."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from index.errors import (
    EmbedderMismatch,
    IndexBusy,
    IndexNotBuilt,
    NotFound,
    NotOnThisBackend,
    SearchIndexError,
)
from ingest.errors import IngestError, UnsupportedFormat
from server.http import routes_admin, routes_answer, routes_facts, routes_openai, routes_sources
from server.http.deps import ServicesDep
from server.http.metrics import CONTENT_TYPE
from server.http.routes_admin import index_job
from server.http.routes_answer import example_questions
from server.settings import Settings, settings_error
from server.wiring import build_services

logger = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (test runners replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break a request
            self.handleError(record)


def configure_logging(level: str, fmt: str = LOG_FORMAT) -> None:
    """Send log records at `level` and above to stderr, one line each, in `fmt`.

    Called again, it changes the level and format of the same handler: `logging.basicConfig`
    did nothing once the CLI had configured its warnings, so the server's level was ignored.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    handler.setFormatter(logging.Formatter(fmt))
    root.setLevel(level.upper())


UNPARSABLE_BODY = "There was an error parsing the body"
DOMAIN_ERRORS: list[tuple[type[Exception], int]] = [
    (IndexNotBuilt, 503),
    (EmbedderMismatch, 503),
    (IndexBusy, 409),
    (NotFound, 404),
    (NotOnThisBackend, 409),
    (UnsupportedFormat, 415),
    (IngestError, 400),
    (SearchIndexError, 500),
    (ValueError, 400),
]


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


OPENAI_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def error_response(
    request: Request,
    detail: str,
    status: int,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Every error body: `{"detail": ...}`; under /v1/ also OpenAI's `{"error": {...}}`.

    OpenAI clients read `error.message` for the exception text, so an integrator sees
    "messages: ..." rather than only "Error code: 422".
    """
    body: dict[str, Any] = {"detail": detail, **(extra or {})}
    if request.url.path.startswith("/v1/"):
        kind = OPENAI_ERROR_TYPES.get(status)
        kind = kind or ("server_error" if status >= 500 else "invalid_request_error")
        body["error"] = {"message": detail, "type": kind, "param": None, "code": None}
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return error_response(request, _validation_detail(exc), 422, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:
            # FastAPI says 400 for a body it cannot decode; malformed JSON is 422 elsewhere.
            detail = (
                "the request body cannot be parsed: send UTF-8 JSON (or a valid multipart form)"
            )
            return error_response(request, detail, 422)
        return error_response(
            request, str(exc.detail), exc.status_code, headers=getattr(exc, "headers", None)
        )

    for error_type, status in DOMAIN_ERRORS:

        def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return error_response(request, str(exc), status)

        app.add_exception_handler(error_type, handler)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return error_response(request, "internal error", 500)


# Requests that may be larger than `max_request_bytes`: uploads, bounded per file instead.
BODY_LIMIT_EXEMPT = frozenset({("POST", "/api/documents")})
# A body this many times over the limit is not read to its end: the connection is closed.
_DRAIN_FACTOR = 16


class BodyLimit:
    """Refuse a request body over `limit` bytes with a JSON 413, before any route reads it.

    The body is read here (it is small: a JSON request) and handed on to the app; one
    that grows past the limit, whatever its Content-Length says, is answered 413.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in BODY_LIMIT_EXEMPT:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        size = int(declared) if declared.isdigit() else 0
        chunks: list[bytes] = []
        received = 0
        pending = True  # more of the body is still to come
        while pending and size <= self.limit:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            size = max(size, received)
            pending = message.get("more_body", False)
        if size > self.limit:
            await self._refuse(scope, receive, send, received if pending else None)
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, read: int | None) -> None:
        """Answer 413; `read` is how much was read of a body not yet finished, else None."""
        # Read (and drop) a moderately large rest, so the client gets to read the answer.
        seen = read
        while seen is not None and seen <= _DRAIN_FACTOR * self.limit:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
            seen += len(message.get("body", b""))
        detail = f"the request body is too large (over {self.limit} bytes)"
        response = error_response(Request(scope), detail, 413, headers={"Connection": "close"})
        await response(scope, receive, send)


def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            seconds = time.perf_counter() - started
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            request.app.state.services.metrics.observe(path, request.method, status, seconds)
            logger.info("%s %s %d %.1f ms", request.method, path, status, seconds * 1000)


# What every error body looks like (see _install_error_handlers); replaces FastAPI's default
# 422 schema, whose `detail` is a list, so the documented schema matches the responses.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {"type": "array", "items": {"type": "object"}, "title": "Errors"},
        "error": {
            "type": "object",
            "title": "Error",
            "description": "Under /v1/ only: the same message in OpenAI's error shape",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        },
    },
}


def _document_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_SCHEMA
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files bundled in `swagger-ui-bundle`, so it works offline."""
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="ClusterChat API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: API, OpenAPI docs at /docs, web pages, /metrics."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    logger.debug(
        "settings: data_dir=%s embedder=%s search_mode=%s top_k=%d llm=%s",
        settings.data_dir,
        settings.embedder,
        settings.search_mode,
        settings.top_k,
        "yes" if settings.llm_base_url else "no",
    )
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.jobs.recover()
        refresher = routes_sources.start_refresher(services)
        # With Postgres, this server also runs the jobs another server queued.
        services.jobs.handle("update", index_job(services, force=False))
        services.jobs.handle("reindex", index_job(services, force=True))
        yield
        if refresher is not None:
            refresher.stop()
        services.jobs.wait(timeout=5)
        services.close()

    app = FastAPI(
        title="ClusterChat",
        version="0.1.0",
        lifespan=lifespan,
        description="Answers about news articles, every claim cited.",
        docs_url=None,  # served below from local files: FastAPI's default loads them from a CDN
        redoc_url=None,
    )
    app.state.services = services
    _install_docs(app)
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    _install_middleware(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        )
    app.include_router(routes_answer.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_facts.router)
    app.include_router(routes_sources.router)
    _document_errors(app)
    templates = Jinja2Templates(directory=str(settings.web_dir / "templates"))
    app.mount("/static", StaticFiles(directory=str(settings.web_dir / "static")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def chat_page(request: Request, services: ServicesDep) -> Any:
        # With reader keys the examples (the newest articles' titles) wait for a key:
        # the page loads them from /api/examples once one is accepted.
        examples = [] if services.settings.api_keys else example_questions(services)
        return templates.TemplateResponse(
            request, "chat.html", {"examples": examples, "lang": "it"}
        )

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_page(request: Request) -> Any:
        return templates.TemplateResponse(request, "admin.html", {})

    @app.get("/metrics", include_in_schema=False)
    def metrics(services: ServicesDep) -> Response:
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (one app per worker, settings from the environment).

    Bad settings stop the server with one line rather than a traceback.
    """
    try:
        settings = Settings()
    except ValueError as exc:
        sys.stderr.write(f"error: invalid setting: {settings_error(exc)}\n")
        raise SystemExit(2) from None
    return create_app(settings)
