"""How a facts answer is written: the role phrases, the cited quotes, and the check that
every name and title in the text stands in a quote it cites."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from ingest.facts.dates import find_dates
from ingest.facts.names import fold
from ingest.facts.types import Person, Session
from server.answer.answerer import Answer, Citation, Named
from server.answer.cues import language, question_kind
from server.answer.facts_match import Sourced

logger = logging.getLogger(__name__)


def _of(label: str) -> str:
    """ "il «Premio X»" -> "del «Premio X»", "la premiazione" -> "della premiazione"."""
    for article, joined in (("il ", "del "), ("la ", "della "), ("lo ", "dello ")):
        if label.startswith(article):
            return joined + label[len(article) :]
    return label


def _marked(people: Sequence[tuple[str, str]], lang: str) -> str:
    """Names with their [n]; a run of names from one quote shares one marker at its end."""
    runs: list[tuple[list[str], str]] = []
    for name, mark in people:
        if runs and runs[-1][1] == mark:
            runs[-1][0].append(name)
        else:
            runs.append(([name], mark))
    if len(runs) == 1:
        return f"{_join(runs[0][0], lang)} {runs[0][1]}"
    return _join([f"{', '.join(names)} {mark}" for names, mark in runs], lang)


def _join(names: Sequence[str], lang: str) -> str:
    if len(names) == 1:
        return names[0]
    conjunction = " and " if lang == "en" else " e "
    return ", ".join(names[:-1]) + conjunction + names[-1]


_IT_MONTHS = (
    *("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto"),
    *("settembre", "ottobre", "novembre", "dicembre"),
)
_EN_MONTHS = (
    *("January", "February", "March", "April", "May", "June", "July", "August"),
    *("September", "October", "November", "December"),
)


def format_dates(dates: Sequence[date], lang: str) -> str:
    """ "14 e 15 novembre 2023" / "14 and 15 November 2023" (days of one month joined)."""
    months = _EN_MONTHS if lang == "en" else _IT_MONTHS
    joiner = " and " if lang == "en" else " e "
    groups: list[list[date]] = []
    for day in sorted(dates):
        if groups and (groups[-1][-1].year, groups[-1][-1].month) == (day.year, day.month):
            groups[-1].append(day)
        else:
            groups.append([day])
    parts = []
    for group in groups:
        days = [str(d.day) for d in group]
        listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + joiner + days[-1]
        parts.append(f"{listed} {months[group[0].month - 1]} {group[0].year}")
    return joiner.join(parts)


def with_resolved_dates(question: str, answer: Answer) -> Answer:
    """A date answer whose first quote has a relative or year-less date gains the full date.

    "… in un webinar in programma martedì della prossima settimana. [1]" is followed by
    "(martedì della prossima settimana: 25 marzo 2025)", resolved from the article's date.
    """
    if answer.abstained or not answer.citations or question_kind(question) != "date":
        return answer
    first = answer.citations[0]
    notes = []
    for mention in find_dates(first.quote, first.published):
        if mention.dates and not re.search(r"\b\d{4}\b", mention.written):
            notes.append(f"{mention.written}: {format_dates(mention.dates, answer.language)}")
    if not notes:
        return answer
    return replace(answer, text=f"{answer.text} ({'; '.join(notes)})")


def _citation(n: int, sourced: Sourced, start: int, end: int) -> Citation:
    article = sourced.article
    chunk = next(
        (c for c in sourced.chunks if c.start <= start and end <= c.end),
        next((c for c in sourced.chunks if c.start <= start < c.end), None),
    )
    inside = chunk is not None and chunk.start <= start and end <= chunk.end
    return Citation(
        n=n,
        article_id=article.id,
        chunk_id=chunk.id if chunk else f"{article.id}:0",
        title=article.title,
        url=article.url,
        published=article.published,
        quote=article.text[start:end],
        start=start,
        end=end,
        highlight_start=None,
        highlight_end=None,
        passage=chunk.text if chunk and inside else article.text[start:end],
        passage_start=chunk.start if chunk and inside else start,
        source=article.source,
    )


class Quotes:
    """Numbers cited spans in order of first use."""

    def __init__(self, sourced: Sourced) -> None:
        self.sourced = sourced
        self.spans: list[tuple[int, int]] = []

    def mark(self, start: int, end: int) -> str:
        if (start, end) not in self.spans:
            self.spans.append((start, end))
        return f"[{self.spans.index((start, end)) + 1}]"

    def citations(self) -> tuple[Citation, ...]:
        return tuple(
            _citation(n, self.sourced, s, e) for n, (s, e) in enumerate(self.spans, start=1)
        )

    def quoted(self) -> str:
        return " ".join(self.sourced.article.text[s:e] for s, e in self.spans)


_IT_KIND = {
    "panel": ("il panel", "al panel"),
    "tavola_rotonda": ("la tavola rotonda", "alla tavola rotonda"),
    "workshop": ("il workshop", "al workshop"),
    "keynote": ("il keynote", "al keynote"),
    "plenaria": ("la sessione plenaria", "alla sessione plenaria"),
    "premiazione": ("il premio", "al premio"),
    "other": ("la sessione", "alla sessione"),
}
_EN_KIND = {
    "panel": "panel",
    "tavola_rotonda": "round table",
    "workshop": "workshop",
    "keynote": "keynote",
    "plenaria": "plenary session",
    "premiazione": "award",
    "other": "session",
}


def _label(session: Session | None, lang: str, to: bool = False) -> str:
    if session is None:
        return ""
    if session.kind == "premiazione" and re.match(r"(?:premio|award|prize)\b", session.title, re.I):
        return (
            f"{'al' if to else 'il'} «{session.title}»"
            if lang == "it"
            else f"the «{session.title}»"
        )
    if lang == "en":
        return f"the {_EN_KIND[session.kind]} «{session.title}»"
    return f"{_IT_KIND[session.kind][1 if to else 0]} «{session.title}»"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _phrase(role: str, session: Session | None, lang: str, plural: bool) -> str:
    """The words before the names: 'Al panel «X» hanno parlato', 'Moderated …'."""
    if lang == "en":
        title = _label(session, lang)
        upper = title[0].upper() + title[1:] if title else ""
        return {
            "speaker": f"Speakers at {title}" if title else "Speakers",
            "moderator": f"Moderator of {title}" if title else "Moderator",
            "opening": "Opened by",
            "closing": "Closed by",
            "keynote": f"Keynote {('«' + session.title + '»') if session else ''} given by",
            "award_winner": f"Winners of {title}" if title else "Winners",
            "award_presenter": f"{upper or 'The award'} presented by",
            "jury": f"Jury of {title}" if title else "Jury",
            "coordinator": f"{upper or 'The workshop'} coordinated by",
        }[role].replace("  ", " ")
    verb = "hanno" if plural else "ha"
    return {
        "speaker": f"{_upper_first(_label(session, lang, to=True))} {verb} parlato"
        if session
        else f"{verb.capitalize()} parlato",
        "moderator": f"{verb.capitalize()} moderato {_label(session, lang)}".rstrip(),
        "opening": f"{verb.capitalize()} aperto i lavori",
        "closing": f"{verb.capitalize()} chiuso i lavori",
        "keynote": f"{verb.capitalize()} tenuto {_label(session, lang) or 'il keynote'}",
        "award_winner": f"{verb.capitalize()} ricevuto {_label(session, lang) or 'il premio'}",
        "award_presenter": f"{verb.capitalize()} consegnato {_label(session, lang) or 'il premio'}",
        "jury": f"Nella giuria {_of(_label(session, lang))}".rstrip(),
        "coordinator": f"{verb.capitalize()} coordinato {_label(session, lang) or 'il workshop'}",
    }[role]


def _winner(person: Person, role: str, quote: str) -> str:
    """An award winner with the organisation the award went to, when its quote names it."""
    org = person.organisation
    if role == "award_winner" and org and fold(org) in fold(quote):
        return f"{person.name} ({org})"
    return person.name


def compose_role(
    question: str,
    role: str,
    sourced: Sourced,
    session: Session | None,
    people: list[tuple[Person, int]],
) -> Answer | None:
    """ "Al panel «X» hanno parlato A [2] e B [3].", or None when a quote does not back it."""
    lang = language(question)
    quotes = Quotes(sourced)
    lead = _phrase(role, session, lang, plural=len(people) > 1)
    session_mark = quotes.mark(session.start, session.end) if session else ""
    names: list[tuple[str, str]] = []
    named = []
    for person, index in people:
        r = person.roles[index]
        mark = quotes.mark(r.start, r.end)
        names.append((_winner(person, role, sourced.article.text[r.start : r.end]), mark))
        named.append(
            Named(person.name, role, person.organisation, person.job_title, int(mark[1:-1]))
        )
    # The session's own quote is marked after its title, unless a person's quote names it too.
    if session_mark and session_mark not in {mark for _, mark in names}:
        lead = re.sub(r"(»)", rf"\1 {session_mark}", lead, count=1) if "»" in lead else lead
        if session_mark not in lead:
            lead = f"{lead} {session_mark}"
    # Italian leads are verb phrases ("Al panel «X» hanno parlato A e B"); English ones and
    # the Italian jury line are labels followed by a colon.
    colon = ":" if lang == "en" or role == "jury" else ""
    text = f"{lead}{colon} {_marked(names, lang)}."
    text = re.sub(r"\s+", " ", text).replace(" :", ":")
    citations = quotes.citations()
    if not composed_is_quoted(text, citations):
        logger.warning("facts: composed answer not backed by its quotes; falling back")
        return None
    return Answer(text, False, citations, "facts", (), lang, tuple(named))


def compose_person(question: str, person: Person, sourced: Sourced) -> Answer | None:
    lang = language(question)
    quotes = Quotes(sourced)
    parts = []
    for r in person.roles:
        session = sourced.facts.session(r.session)
        marks = quotes.mark(r.start, r.end)
        if session is not None and (session.start, session.end) != (r.start, r.end):
            marks += quotes.mark(session.start, session.end)
        parts.append(f"{_person_phrase(r.role, session, lang)} {marks}")
    if not parts:
        return None
    text = f"{person.name}: {'; '.join(parts)}."
    citations = quotes.citations()
    if not composed_is_quoted(text, citations):
        return None
    return Answer(text, False, citations, "facts", (), lang)


def _person_phrase(role: str, session: Session | None, lang: str) -> str:
    label = _label(session, lang, to=True)
    if lang == "en":
        return {
            "speaker": f"spoke at {_label(session, lang)}" if session else "spoke",
            "moderator": f"moderated {_label(session, lang)}" if session else "moderator",
            "opening": "opened the event",
            "closing": "closed the event",
            "keynote": f"gave {_label(session, lang) or 'the keynote'}",
            "award_winner": f"won {_label(session, lang) or 'an award'}",
            "award_presenter": f"presented {_label(session, lang) or 'the award'}",
            "jury": f"sat on the jury of {_label(session, lang) or 'the award'}",
            "coordinator": f"coordinated {_label(session, lang) or 'a workshop'}",
        }.get(role, role)
    return {
        "speaker": f"ha parlato {label}" if session else "relatore",
        "moderator": f"ha moderato {_label(session, lang)}" if session else "moderatore",
        "opening": "ha aperto i lavori",
        "closing": "ha chiuso i lavori",
        "keynote": f"ha tenuto {_label(session, lang) or 'il keynote'}",
        "award_winner": f"ha ricevuto {_label(session, lang) or 'un premio'}",
        "award_presenter": f"ha consegnato {_label(session, lang) or 'il premio'}",
        "jury": f"giuria {_label(session, lang).replace('il premio', 'del premio')}".rstrip(),
        "coordinator": f"ha coordinato {_label(session, lang) or 'un workshop'}",
    }.get(role, role)


_QUOTED_TITLE = re.compile(r"«([^»]+)»")
_NAME_LIKE = re.compile(
    r"\b[A-ZÀ-Þ][\w'’-]+(?:\s+(?:de|di|da|del|della|van|von|[A-ZÀ-Þ][\w'’-]+))+"
)


def composed_is_quoted(text: str, citations: Sequence[Citation]) -> bool:
    """True when every title and name-like phrase of `text` occurs in a cited quote."""
    quoted = fold(re.sub(r"\s+", " ", " ".join(c.quote for c in citations)))
    phrases = _QUOTED_TITLE.findall(text) + _NAME_LIKE.findall(_QUOTED_TITLE.sub("", text))
    parenthesised = re.findall(r"\(([^)]+)\)", text)
    return all(fold(re.sub(r"\s+", " ", p)) in quoted for p in [*phrases, *parenthesised])


def session_text(session: Session) -> str:
    """What is embedded of a session: its kind and title ("tavola rotonda: Moda digitale")."""
    return f"{_EN_KIND[session.kind]}: {session.title}"
