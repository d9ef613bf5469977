"""JSON Lines files: one article per line, invalid lines reported by number."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.text import parse_date
from ingest.types import Article, content_hash, stable_id


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of a JSONL file that was skipped, and why."""

    line: int
    reason: str


def _article(record: object, path: Path) -> Article:
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    title, text = record.get("title"), record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('missing or empty "text"')
    if not isinstance(title, str) or not title.strip():
        title = text.strip().split("\n", 1)[0][:120]
    url = record.get("url") or None
    if url is not None and not isinstance(url, str):
        raise ValueError('"url" must be a string')
    published = _date(record.get("date"))
    given = record.get("id")
    if given is not None and (not isinstance(given, str | int) or not str(given).strip()):
        raise ValueError('"id" must be a non-empty string')
    article_id = (
        str(given).strip() if given is not None else stable_id(url or f"{path.resolve()}#{title}")
    )
    source = record.get("source")
    return Article(
        id=article_id,
        source=source if isinstance(source, str) and source else str(path),
        title=title.strip(),
        text=text,
        url=url,
        published=published,
        content_hash=content_hash(title.strip(), text, url, published),
    )


def _date(value: object) -> date | None:
    if value in (None, ""):
        return None
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f'"date" is not a date: {value!r}')
    return parsed


def parse_jsonl(raw: str, path: Path) -> tuple[list[Article], list[LineError]]:
    """Parse every line; a bad line is reported with its number and the rest are kept."""
    articles: list[Article] = []
    errors: list[LineError] = []
    seen: set[str] = set()
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            article = _article(json.loads(line), path)
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"invalid JSON ({exc.msg}, column {exc.colno})"))
            continue
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
            continue
        if article.id in seen:
            errors.append(LineError(number, f"duplicate id {article.id!r}"))
            continue
        seen.add(article.id)
        articles.append(article)
    return articles, errors
