"""`clusterchat sources add|list|remove`, `clusterchat refresh`, and URLs for `ingest`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from index.docstore import DocStore
from index.errors import SearchIndexError
from index.sources_store import SourcesStore
from index.store import embedded
from ingest.errors import FetchError
from ingest.web.fetch import check_url
from server import cli
from server.pipeline import IngestReport
from server.settings import Settings
from server.sources import (
    DEFAULT_EVERY,
    fetcher_for,
    format_every,
    parse_every,
    refresh_many,
    source_json,
    web_ingest_for,
)
from server.wiring import open_store

sources_app = typer.Typer(
    help="Register news sites (feeds, sitemaps, pages) that `refresh` and `serve` fetch.",
    no_args_is_help=True,
)
Url = Annotated[str, typer.Argument(help="An http(s) URL: a feed, a sitemap or a page.")]


def checked_urls(urls: list[str]) -> list[str]:
    """The URLs stripped; a malformed one stops the command (exit 2) before any fetch."""
    try:
        return [check_url(u) for u in urls]
    except FetchError as exc:
        cli.fail(str(exc))
    return []


def ingest_urls(
    settings: Settings,
    store: DocStore,
    urls: list[str],
    report: IngestReport,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Fetch and store each URL (a page, or a feed's or sitemap's items) into `report`."""
    with fetcher_for(settings) as fetcher:
        web = web_ingest_for(settings, embedded(store, "Sources over HTTP"), fetcher)
        for url in urls:
            web.ingest(url, report, progress)


@sources_app.command("add")
def add(
    url: Url,
    every: Annotated[
        str, typer.Option("--every", help="How often to refresh: 30m, 1h, 1d...")
    ] = DEFAULT_EVERY,
    data_dir: cli.DataDir = None,
) -> None:
    """Register a source (or change its interval); `refresh` or `serve` fetches it."""
    url = checked_urls([url])[0]
    try:
        seconds = parse_every(every)
    except ValueError as exc:
        cli.fail(str(exc))
    store = open_store(cli.settings_for(data_dir))
    try:
        new = SourcesStore(embedded(store, "Sources over HTTP")).add(url, seconds, time.time())
    finally:
        store.close()
    shown = format_every(seconds)
    line = (
        f"added {url} (every {shown})" if new else f"{url}: already registered; now every {shown}"
    )
    cli.console.print(line, highlight=False)


@sources_app.command("list")
def list_sources(data_dir: cli.DataDir = None, as_json: cli.AsJson = False) -> None:
    """List the registered sources with their last fetch, status and counts."""
    store = open_store(cli.settings_for(data_dir))
    try:
        rows = [source_json(s) for s in SourcesStore(embedded(store, "Sources over HTTP")).all()]
    finally:
        store.close()
    if as_json:
        cli.out.print_json(json.dumps(rows))
        return
    table = Table("url", "every", "last fetch", "status", "added", "updated", "unchanged", "failed")
    for r in rows:
        c = r["counts"]
        table.add_row(
            r["url"], r["every"], r["last_fetch"] or "never", r["status"] or "",
            *(str(c.get(k, "")) for k in ("added", "updated", "unchanged", "failed")),
        )  # fmt: skip
    cli.out.print(table)


@sources_app.command("remove")
def remove(url: Url, data_dir: cli.DataDir = None) -> None:
    """Stop refreshing a source; the articles already stored from it stay."""
    store = open_store(cli.settings_for(data_dir))
    try:
        removed = SourcesStore(embedded(store, "Sources over HTTP")).remove(url.strip())
    finally:
        store.close()
    if not removed:
        cli.fail(f"{url}: not a registered source (see `clusterchat sources list`)")
    cli.console.print(f"removed {url.strip()} (its articles are kept)", highlight=False)


def refresh(
    url: Annotated[str | None, typer.Argument(help="One registered source; default: all.")] = None,
    data_dir: cli.DataDir = None,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Store articles only; update the index later.")
    ] = False,
) -> None:
    """Fetch new or changed items of the registered sources, then update the index.

    Exit code 0 when every item succeeded, 1 when some failed (the rest is stored),
    2 for bad usage (such as a URL that is not registered).
    """
    settings = cli.settings_for(data_dir)
    store = open_store(settings)
    registered = [s.url for s in SourcesStore(embedded(store, "Sources over HTTP")).all()]
    if url is not None and url.strip() not in registered:
        store.close()
        cli.fail(f"{url}: not a registered source; add it with `clusterchat sources add URL`")
    urls = [url.strip()] if url else registered
    if not urls:
        store.close()
        cli.console.print("no sources registered; add one with `clusterchat sources add URL`")
        raise typer.Exit(0)
    embedder = None if no_index else cli.loaded_embedder(settings)
    try:
        with fetcher_for(settings) as fetcher, cli._progress() as bar:
            task = bar.add_task("sources", total=len(urls))
            result = refresh_many(
                web_ingest_for(settings, embedded(store, "Sources over HTTP"), fetcher),
                urls,
                due_only=False,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        store.close()
    for source, status in result.sources.items():
        if status == "busy":
            cli.console.print(f"  {source}: another process is refreshing it; skipped")
    report = result.report
    if embedder is not None:
        try:
            report.index = cli._build(settings, embedder, force=False)
        except SearchIndexError as exc:
            cli.fail(str(exc), 1)
    cli._summary(report)
    raise typer.Exit(1 if report.failed else 0)


def register(app: typer.Typer) -> None:
    """Add `sources` and `refresh` to the `clusterchat` command."""
    app.add_typer(sources_app, name="sources")
    app.command()(refresh)
