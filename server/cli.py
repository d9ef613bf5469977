"""The `clusterchat` command line: ingest, documents, delete, reindex, search, eval, ask, serve."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from index.backends.pg_schema import SchemaMismatch
from index.embedder import Embedder
from index.errors import SearchIndexError
from index.search import MODES
from index.store import embedded
from index.types import DATE_FIELDS, Filters, Hit
from ingest.errors import IngestError
from ingest.web.fetch import is_url
from server import cli_db
from server.answer import qa
from server.answer.evaluate import evaluate, evaluate_answers, load_questions
from server.cli_facts import listing_extras, render_facts
from server.extraction import current_facts, facts_document
from server.http.app import configure_logging
from server.http.schemas import answer_out
from server.pipeline import BUILD_LOCK_WAIT_S, IngestReport, ingest_paths, update_index
from server.settings import Settings, settings_error
from server.wiring import (
    build_services,
    embedder_for,
    extractive_for,
    indexer_for,
    open_store,
    searcher_for,
)

app = typer.Typer(
    help="ClusterChat: ask questions about a collection of news articles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
logger = logging.getLogger(__name__)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder [default: $CLUSTERCHAT_DATA_DIR or ./data]"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_for(data_dir: Path | None) -> Settings:
    """Settings from the environment, with `--data-dir` taking precedence."""
    try:
        settings = Settings()
    except ValueError as exc:
        fail(f"invalid setting: {settings_error(exc)}")
    if data_dir and data_dir.exists() and not data_dir.is_dir():
        fail(f"--data-dir {data_dir}: not a folder")
    return settings.model_copy(update={"data_dir": data_dir}) if data_dir else settings


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error and exit (2: bad usage or input, 1: partial failure)."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def loaded_embedder(settings: Settings, embedder: Embedder | None = None) -> Embedder:
    """The configured embedder (or `embedder`) with its model loaded, so that a model that
    cannot load stops the command in one line before anything is stored or deleted.
    """
    embedder = embedder or embedder_for(settings)
    held = logging.handlers.BufferingHandler(capacity=10_000)
    root = logging.getLogger()
    handlers, root.handlers = root.handlers, [held]
    try:
        if embedder.dim <= 0:
            raise ValueError(f"the model reports {embedder.dim} dimensions")
    except Exception as exc:  # whatever a third-party model loader raises
        reason = " ".join(str(exc).split()) or type(exc).__name__
        fail(f"invalid setting: CLUSTERCHAT_EMBEDDER={settings.embedder!r}: {reason}")
    finally:
        root.handlers = handlers
    # The loader's log lines are shown only when it worked: on failure the error says it all.
    for record in held.buffer:
        root.handle(record)
    return embedder


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def _build(settings: Settings, embedder: Embedder, force: bool) -> Any:
    store = open_store(settings)
    with _progress() as bar:
        task = bar.add_task("indexing", total=None)
        report = update_index(
            store,
            embedder,
            indexer_for(settings, store),
            force=force,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            sentence_vectors=settings.sentence_vectors,
            lock_wait=BUILD_LOCK_WAIT_S,  # a server job may be building: wait for it
        )
    store.close()
    return report


def _summary(report: IngestReport) -> None:
    console.print(
        f"added {report.added}, updated {report.updated}, unchanged "
        f"{report.unchanged}, removed {report.removed}, failed {len(report.failed)}",
        highlight=False,
    )
    for file, reason in report.failed:
        console.print(f"  [red]failed[/] {file}: {reason}", highlight=False)
    if report.index:
        console.print(
            f"index {report.index.generation}: {report.index.chunks} chunks, "
            f"{report.index.sentences} sentences, {report.index.embedded} embedded",
            highlight=False,
        )


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders (recursive), or http(s) URLs of feeds, sitemaps, pages."
        ),
    ],
    data_dir: DataDir = None,
    do_prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Remove stored articles whose file is gone from the given folders."
        ),
    ] = False,
    no_index: Annotated[
        bool,
        typer.Option(
            "--no-index", help="Store articles only; build the index later with `reindex`."
        ),
    ] = False,
) -> None:
    """Add or update articles (.html .htm .pdf .txt .md .jsonl, or URLs) and update the index.

    A URL may be an RSS or Atom feed, a sitemap or a single page (HTML or PDF), told apart
    by its content. Exit code 0 when every file and item succeeded, 1 when some failed (the
    rest is stored), 2 for bad usage (such as a path that does not exist).
    """
    from server.cli_sources import checked_urls, ingest_urls

    urls = checked_urls([p for p in paths if is_url(p)])
    files = [Path(p) for p in paths if not is_url(p)]
    settings = settings_for(data_dir)
    embedder = None if no_index else loaded_embedder(settings)
    store = open_store(settings)
    try:
        with _progress() as bar:
            task = bar.add_task("reading", total=None)
            report = ingest_paths(
                files,
                store,
                chunk_chars=settings.chunk_chars,
                chunk_overlap=settings.chunk_overlap,
                do_prune=do_prune,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
            if urls:
                bar.update(task, description="fetching")
                ingest_urls(
                    settings,
                    embedded(store, "Ingesting URLs"),
                    urls,
                    report,
                    lambda d, t: bar.update(task, completed=d, total=t),
                )
    except IngestError as exc:
        fail(str(exc))
    finally:
        store.close()
    if embedder is not None:
        try:
            report.index = _build(settings, embedder, force=False)
        except SearchIndexError as exc:
            fail(str(exc), 1)
    _summary(report)
    raise typer.Exit(1 if report.failed else 0)


@app.command()
def reindex(data_dir: DataDir = None) -> None:
    """Rebuild the index from the stored chunks (cached vectors are reused)."""
    settings = settings_for(data_dir)
    embedder = loaded_embedder(settings)
    try:
        report = _build(settings, embedder, force=True)
    except SearchIndexError as exc:
        fail(str(exc), 1)
    console.print(
        f"index {report.generation}: {report.chunks} chunks, {report.sentences} sentences, "
        f"{report.embedded} embedded, {report.seconds:.1f} s",
        highlight=False,
    )


@app.command()
def documents(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """List the stored articles (id, title, url, date, chunks; with --json also the event
    dates and `duplicate_of`, the original a near-duplicate republishes)."""
    store = open_store(settings_for(data_dir))
    rows = store.articles()
    extras = listing_extras(store, [r.id for r in rows])
    duplicates = store.duplicates()
    store.close()
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "title": r.title,
                        "url": r.url,
                        "date": r.published.isoformat() if r.published else None,
                        "source": r.source,
                        "chunks": r.chunks,
                        **extras[r.id],
                        "duplicate_of": duplicates.get(r.id),
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table("id", "date", "title", "url", "chunks")
    for r in rows:
        table.add_row(r.id, str(r.published or ""), r.title, r.url or r.source, str(r.chunks))
    out.print(table)


@app.command()
def delete(
    article_id: Annotated[str, typer.Argument(help="The id shown by `documents`.")],
    data_dir: DataDir = None,
) -> None:
    """Delete one article and update the index."""
    settings = settings_for(data_dir)
    embedder = loaded_embedder(settings)
    store = open_store(settings)
    try:
        store.delete(article_id)
    except SearchIndexError as exc:
        fail(str(exc))
    finally:
        store.close()
    try:
        _build(settings, embedder, force=False)
    except SearchIndexError as exc:
        fail(str(exc), 1)
    console.print(f"deleted {article_id}", highlight=False)


@app.command()
def facts(
    article_id: Annotated[str, typer.Argument(help="The id shown by `documents`.")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Show the events, sessions and people (roles, quotes) found in one article."""
    store = open_store(settings_for(data_dir))
    try:
        article = store.get(article_id)
        doc = facts_document(article, current_facts(store, article))
    except SearchIndexError as exc:
        fail(str(exc))
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps(doc))
        return
    out.print(render_facts(doc), highlight=False, markup=False)


def _hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "article_id": hit.chunk.article_id,
        "chunk_id": hit.chunk.id,
        "title": hit.title,
        "url": hit.url,
        "date": hit.published.isoformat() if hit.published else None,
        "score": round(hit.score, 6),
        "start": hit.chunk.start,
        "end": hit.chunk.end,
        "page": hit.chunk.page,
        "heading": hit.chunk.heading,
        "text": hit.chunk.text,
        "event_dates": [d.isoformat() for d in hit.event_dates],
    }


def _date_option(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date like 2024-03-07, got {value!r}")
    return None


DateFieldOption = Annotated[
    str,
    typer.Option(
        "--date-field",
        help="What --since/--until read: published (the publication date) or event (the "
        "dates of the events an article reports; an article with none never matches).",
    ),
]
SinceOption = Annotated[
    str | None, typer.Option(help="Only articles on/after YYYY-MM-DD (see --date-field).")
]
UntilOption = Annotated[
    str | None, typer.Option(help="Only articles on/before YYYY-MM-DD (see --date-field).")
]
SourceOption = Annotated[str | None, typer.Option(help="Only sources/URLs containing this.")]


def _filters(since: str | None, until: str | None, source: str | None, date_field: str) -> Filters:
    """The filters the options name; a bad value exits 2 with one line."""
    if date_field not in DATE_FIELDS:
        fail(f"--date-field must be one of {', '.join(DATE_FIELDS)}, got {date_field!r}")
    first, last = _date_option(since, "--since"), _date_option(until, "--until")
    try:
        return Filters(first, last, source, date_field)  # type: ignore[arg-type]
    except ValueError as exc:
        raise fail(str(exc)) from exc


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The search text.")],
    k: Annotated[int, typer.Option("--k", min=1, max=200, help="Hits to show.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    since: SinceOption = None,
    until: UntilOption = None,
    source: SourceOption = None,
    date_field: DateFieldOption = "published",
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Print the best passages for QUERY."""
    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}")
    settings = settings_for(data_dir)
    filters = _filters(since, until, source, date_field)
    try:
        searcher = searcher_for(settings, loaded_embedder(settings))
        hits = searcher.search(query, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    except (ValueError, SearchIndexError) as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps({"hits": [_hit_json(h) for h in hits]}))
        return
    for n, hit in enumerate(hits, start=1):
        out.print(
            f"[bold]{n}. {hit.title}[/] ({hit.published or 'no date'}) "
            f"score {hit.score:.4f}\n   {hit.url or hit.source}  "
            f"{hit.chunk.id} [{hit.chunk.start}:{hit.chunk.end}]",
            highlight=False,
        )
        out.print("   " + hit.chunk.text[:300].replace("\n", " "), highlight=False)


@app.command(name="eval")
def eval_command(
    questions: Annotated[Path, typer.Argument(help="JSONL questions with doc_id or source.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Depth for recall@k.")] = 20,
    mode: Annotated[
        list[str] | None, typer.Option(help="hybrid, dense, bm25 (repeatable).")
    ] = None,
    answers: Annotated[
        bool, typer.Option("--answers", help="Also score the answers (containment, abstention).")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Use the first N questions.")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Recall@1/5/k and MRR of the current index on a question set (and answer quality)."""
    modes = mode or ["hybrid"]
    for m in modes:
        if m not in MODES:
            fail(f"--mode must be one of {', '.join(MODES)}")
    if not questions.is_file():
        fail(f"{questions}: no such file")
    settings = settings_for(data_dir)
    try:
        items = load_questions(questions)[:limit]
        searcher = searcher_for(settings, loaded_embedder(settings))
        results = [evaluate(searcher, items, m, depth=k) for m in modes]  # type: ignore[arg-type]
        scored = (
            evaluate_answers(
                searcher,
                extractive_for(settings, searcher),
                items,
                k=settings.top_k,
                mode=settings.search_mode,
            )
            if answers
            else None
        )
    except (ValueError, SearchIndexError) as exc:
        fail(str(exc))
    if as_json:
        payload: dict[str, Any] = {"retrieval": [r.as_dict() for r in results]}
        if scored:
            payload["answers"] = scored.as_dict()
        out.print_json(json.dumps(payload))
        return
    table = Table("mode", "questions", "R@1", "R@5", f"R@{k}", "MRR", "p50 ms", "p95 ms")
    for r in results:
        table.add_row(
            r.mode,
            str(r.questions),
            f"{r.recall_at_1:.3f}",
            f"{r.recall_at_5:.3f}",
            f"{r.recall_at_20:.3f}",
            f"{r.mrr:.3f}",
            f"{r.p50_ms:.1f}",
            f"{r.p95_ms:.1f}",
        )
    out.print(table)
    if scored:
        out.print(
            f"answers: containment {scored.containment:.3f} (contains gold "
            f"{scored.contains_gold:.3f}, cites gold {scored.cites_gold:.3f}); abstained on "
            f"answerable {scored.abstained_answerable:.3f}"
            + (
                f", on unanswerable {scored.abstained_unanswerable:.3f}"
                if scored.abstained_unanswerable is not None
                else ""
            )
            + f"; answer p50 {scored.p50_ms:.1f} ms, p95 {scored.p95_ms:.1f} ms",
            highlight=False,
        )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Italian or English.")],
    k: Annotated[int | None, typer.Option("--k", min=1, max=50, help="Passages to read.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    source: SourceOption = None,
    date_field: DateFieldOption = "published",
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Answer QUESTION from the articles, with numbered sources."""
    settings = settings_for(data_dir)
    if not question.strip():
        fail("the question is empty")
    filters = _filters(since, until, source, date_field)
    services = build_services(settings)
    try:
        loaded_embedder(settings, services.embedder)
        asked = qa.ask(
            services.searcher,
            services.answerer,
            question,
            k=k or settings.top_k,
            mode=settings.search_mode,
            filters=filters if filters.active else None,
            condenser=services.llm,
        )
    except (ValueError, SearchIndexError) as exc:
        fail(str(exc))
    finally:
        services.close()
    if as_json:
        out.print_json(answer_out(asked.answer, asked.timings).model_dump_json())
        return
    out.print(asked.answer.text, highlight=False)
    for c in asked.answer.citations:
        out.print(
            f"[{c.n}] {c.title} ({c.published or 'no date'}) {c.url or ''}\n"
            f"    “{' '.join(c.quote.split())}”",
            highlight=False,
        )
        for r in c.also_published_by:
            out.print(
                f"    also published by: {r.title} ({r.published or 'no date'}) "
                f"{r.url or r.source}",
                highlight=False,
            )
    for s in asked.answer.suggestions:
        out.print(f"  - {s.title} ({s.published or 'no date'}) {s.url or ''}", highlight=False)


SHUTDOWN_GRACE_SECONDS = 3


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Worker processes.")] = 1,
) -> None:
    """Serve the web chat, the API and its docs (/docs).

    Logs one line per request and per question at CLUSTERCHAT_LOG_LEVEL=INFO (the default).
    """
    import uvicorn

    settings = settings_for(data_dir)
    _check_port(host, port)
    if settings.database_url is not None:
        open_store(settings).close()  # an unmigrated or newer schema stops here, in one line
    # Workers are new processes: they read the settings from the environment.
    os.environ["CLUSTERCHAT_DATA_DIR"] = str(settings.data_dir.resolve())
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"serving at http://{shown}:{port} (data {settings.data_dir.resolve()}, "
        f"{workers} worker{'s' if workers > 1 else ''}, log level {settings.log_level})",
        highlight=False,
    )
    uvicorn.run(
        "server.http.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn's records go to the app's log handler; its start-up chatter only at DEBUG,
        # since the line above and the app's request lines say the same.
        log_config=None,
        log_level={"DEBUG": "debug", "INFO": "warning"}.get(
            settings.log_level, settings.log_level.lower()
        ),
        access_log=False,
        # SIGTERM: requests still running after this many seconds are cancelled, so a
        # busy server stops promptly (docs/limits.md).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


def _check_port(host: str, port: int) -> None:
    """Fail in one line when `host:port` cannot be listened on (busy port, unknown host)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


# Registered last: the module uses the helpers above (settings_for, fail, _summary...).
from server.cli_sources import register  # noqa: E402

register(app)
cli_db.register(app)


def main() -> None:
    """Entry point of the `clusterchat` script."""
    configure_logging("WARNING", "%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (SchemaMismatch, psycopg.OperationalError) as exc:  # any command, one line
        console.print(f"[bold red]error:[/] {' '.join(str(exc).split())}", highlight=False)
        raise SystemExit(2) from None
