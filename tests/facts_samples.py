"""Hand-built facts for any article: real sentence offsets, made-up but well-formed contents.

The extractor may find nothing in the test articles (or change what it finds); these let the
storage and interface tests check a full facts document whatever the extractor does.
"""

from __future__ import annotations

from datetime import date

from ingest.facts.types import Event, Facts, Person, Role, Session
from ingest.sentences import sentence_spans
from ingest.types import Article

SAMPLE_VERSION = "sample-1"


def sample_facts(
    article: Article, *, person: str = "Nicolò D\u2019Angelo", version: str = SAMPLE_VERSION
) -> Facts:
    """One event, two sessions and two people, each stated by a real sentence of `article`."""
    spans = sentence_spans(article.text)
    first = spans[0]
    second = spans[1] if len(spans) > 1 else spans[0]
    return Facts(
        article_id=article.id,
        events=(
            Event(
                name="Forum di prova",
                edition="III edizione",
                place="Bologna",
                dates=(date(2024, 5, 9), date(2024, 5, 10)),
                dates_as_written="9 e 10 maggio",
                start=first[0],
                end=first[1],
            ),
        ),
        sessions=(
            Session("s1", "Il valore condiviso", "panel", "Forum di prova", *first),
            Session("s2", "Premi 2024", "premiazione", None, *second),
        ),
        people=(
            Person(
                name=person,
                organisation="Clust-ER Agrifood",
                job_title="presidente",
                roles=(Role("moderator", "s1", *first), Role("speaker", None, *second)),
            ),
            Person("Paola Serra", None, None, (Role("award_winner", "s2", *second),)),
        ),
        section="Eventi",
        version=version,
    )
