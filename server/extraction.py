"""Running the fact extractor: at ingest, when its version changes, and for display."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from index.errors import NotFound
from index.facts_store import check_offsets
from index.store import DocumentStore
from ingest.facts.extract import EXTRACTOR_VERSION, extract_facts
from ingest.facts.types import Facts, facts_to_dict
from ingest.types import Article

logger = logging.getLogger(__name__)


def facts_of(article: Article) -> Facts | None:
    """The extractor's facts of `article`, or None when it fails on it.

    A failing extractor must not cost the article: the article is stored without facts
    (and `refresh_facts` tries again on the next index update), and the failure is logged.
    """
    try:
        facts = extract_facts(article)
        check_offsets(facts, article.text)
    except Exception:  # any extractor bug: keep the article, log the cause
        logger.exception("fact extraction failed on article %s", article.id)
        return None
    if facts.article_id != article.id:
        logger.error("the extractor returned facts of %s for %s", facts.article_id, article.id)
        return None
    return facts


def refresh_facts(store: DocumentStore, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the facts of every article whose stored facts are missing or of another
    extractor version (the Article is rebuilt from the store).

    Returns:
        How many articles got new facts.
    """
    stale = store.stale_facts(EXTRACTOR_VERSION)
    stored = 0
    for done, article_id in enumerate(stale, start=1):
        try:
            article = store.get(article_id)
        except NotFound:
            continue  # deleted meanwhile
        facts = facts_of(article)
        if facts is not None and store.put_facts(facts, article.content_hash):
            stored += 1
        if progress:
            progress(done, len(stale))
    if stale:
        logger.info("recomputed the facts of %d of %d articles", stored, len(stale))
    return stored


def current_facts(store: DocumentStore, article: Article) -> Facts:
    """The stored facts of `article`, or (none stored yet) what the extractor finds now.

    Raises nothing for a failing extractor: the article then shows no facts.
    """
    stored = store.facts([article.id]).get(article.id)
    if stored is not None:
        return stored
    return facts_of(article) or Facts(article_id=article.id, version=EXTRACTOR_VERSION)


def facts_document(article: Article, facts: Facts) -> dict[str, Any]:
    """The facts of `article` as `clusterchat facts --json` and the facts API return them."""
    return {
        "article_id": article.id,
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        **facts_to_dict(facts, article.text),
    }
