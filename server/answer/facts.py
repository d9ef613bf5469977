"""Who-did-what answers built from the facts extracted at ingest, cited sentence by sentence.

"Chi ha parlato al panel X?", "Who moderated …?", "A quale panel ha partecipato Y?": the
answerer finds the asked role in the question, the session among the retrieved articles'
facts (by the words and meaning it shares with the question), and names every person with
that role, citing the sentences that name the session and each person. Any other question,
or one it cannot pin to a session, goes to the sentence answerer it wraps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

from index.lexical import tokenize
from index.types import Hit
from ingest.facts.names import find_names, fold
from ingest.facts.types import Facts, Person, Session
from server.answer.answerer import Answer, Answerer, Turn, abstain
from server.answer.cues import language
from server.answer.facts_match import (
    NOISE,
    FactsLookup,
    Sourced,
    anchors,
    cognates,
    other_occasion_only,
    overlap,
    same_occasion,
    session_ordinal,
    with_exonyms,
)
from server.answer.facts_text import (
    Quotes,
    compose_person,
    compose_role,
    format_dates,
    session_text,
    with_resolved_dates,
)

logger = logging.getLogger(__name__)


class Encoder(Protocol):
    """What the answerer needs of an embedder: a question vector and passage vectors."""

    def query(self, text: str) -> npt.NDArray[np.float32]:
        """One L2-normalised row for a question."""
        ...

    def passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """L2-normalised rows for passages."""
        ...


# What a who-question asks for; the first that matches wins ("chi ha consegnato il premio"
# is about the presenter, not the winner).
_ASKED: tuple[tuple[str, str], ...] = (
    ("moderator", r"moder|\bchair|\bhost(?:ed)?\b|condott|condurre|\bcondot"),
    (
        "award_presenter",
        r"consegn|present(?:ed)?\s+the\s+(?:award|prize)|hand(?:ed)?\s+(?:out|over)|gave\s+(?:out\s+)?the\s+(?:award|prize)",
    ),
    ("jury", r"\bgiuri|\bgiudic|\bjury|\bjudges?\b"),
    (
        "award_winner",
        r"\bvint|vincit|premiat|aggiudic|ritirat|\bwon\b|\bwin(?:ner)?s?\b|award(?:ed)?|prize|premio|riconosciment",
    ),
    (
        "keynote",
        r"keynote|lectio|relazione\s+(?:introduttiva|principale|di\s+apertura)|intervento\s+principale|main\s+(?:talk|speech)",
    ),
    (
        "opening",
        r"\bapert|\baprir|\bsaluti|\bopen(?:ed|ing)?\b|welcom|dato\s+il\s+via|dare\s+il\s+via|kick(?:ed)?\s*off|inaugur",
    ),
    (
        "closing",
        r"\bchius|\bchiuder|conclus|\bclos(?:ed|ing)\b|conclud|tirat[oa]\s+le\s+somme|wrap(?:ped)?\s+up|final\s+(?:word|remarks)",
    ),
    ("coordinator", r"coordin|guidat|\bled\b|\bran\b|\brun\b"),
    (
        "speaker",
        r"parlat|intervenut|relator|relatric|partecipat|preso\s+parte|sul\s+palco|discuss|ospiti|\bspoke|\bspeak|panel+ists?|took\s+part|talk|on\s+stage|\bwho\s+(?:was|were)\s+on|guests?",
    ),
)
_WHO = re.compile(
    r"\b(?:chi|who|whom|da\s+chi|by\s+whom|(?:quali|quale|which|what)\s+(?:relator\w*|ospiti|"
    r"persone|esperti|speakers?|guests?|people|panel+ists?|start-?up|aziend\w+|impres\w+))\b",
    re.I,
)
_WHICH_SESSION = re.compile(
    r"\b(?:(?:a|in|per)\s+)?(?:quale|quali|che|which|what)\s+(?:panel|sessione|sessioni|session|"
    r"sessions|tavola|tavole|workshop|keynote|talk|evento|ruolo|ruoli|role|roles|incontro|dibattito|"
    r"veste)\b|\bin\s+what\s+capacity\b",
    re.I,
)
_KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("tavola_rotonda", r"tavol[ae]\s+rotond|round[- ]?table"),
    ("workshop", r"workshop|laborator"),
    ("keynote", r"keynote|lectio"),
    ("plenaria", r"plenari"),
    ("premiazione", r"premiazion|award\s+ceremony"),
    ("panel", r"\bpanel|dibattit|debate|discussion"),
)
_TALKS = {"panel", "tavola_rotonda", "workshop", "plenaria", "keynote"}
# Words that say what is asked, not which session: they carry no evidence of a match.
# Below this, a session is not taken as the one the question names (unless it is the only one).
_MIN_MATCH = 0.45


@dataclass(frozen=True, slots=True)
class _Pick:
    sourced: Sourced
    session: Session | None
    score: float


def _asks_who(question: str) -> bool:
    """A who-question: "chi", "who"… used as a question word, not inside a name ("Doctor
    Who", "Dottore Chi"): capitalised only at the start of the question."""
    for match in _WHO.finditer(question):
        if match.start() == 0 or not match.group(0)[:1].isupper():
            return True
    return False


def asked_role(question: str) -> str | None:
    """The role a who-question asks about, or None when it is not one."""
    if not _asks_who(question):
        return None
    lowered = question.lower()
    return next((role for role, pattern in _ASKED if re.search(pattern, lowered)), None)


def _asked_kind(question: str) -> str | None:
    lowered = question.lower()
    return next((kind for kind, pattern in _KIND_WORDS if re.search(pattern, lowered)), None)


class FactsAnswerer:
    """Answers role questions from extracted facts; everything else goes to `base`."""

    def __init__(
        self,
        base: Answerer,
        lookup: FactsLookup,
        encoder: Encoder | None = None,
        sentence_similarity: Callable[[str, Sequence[str]], Sequence[float | None]] | None = None,
    ) -> None:
        self.base = base
        self.lookup = lookup
        self.encoder = encoder
        # Cosines of the question to indexed sentences (`Searcher.sentence_similarity`).
        self.sentence_similarity = sentence_similarity
        # Session titles are short and few: embedded on first use and kept.
        self._title_vector = lru_cache(maxsize=4096)(self._embed_title)

    def _embed_title(self, text: str) -> npt.NDArray[np.float32]:
        assert self.encoder is not None
        vector: npt.NDArray[np.float32] = self.encoder.passages([text])[0]
        return vector

    def similarity(self, question: str, titles: Sequence[str]) -> list[float | None]:
        """Cosine of the question to each session title (None without an encoder)."""
        if self.encoder is None or not titles:
            return [None] * len(titles)
        query = self.encoder.query(question)[0]
        return [float(self._title_vector(t) @ query) for t in titles]

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()) -> Answer:
        """A composed, cited answer for a role question, else the wrapped answerer's."""
        try:
            composed = self._from_facts(question, hits)
        except Exception:  # a facts problem must never cost the member an answer
            logger.exception("facts answer failed; answering from sentences")
            composed = None
        if composed is not None:
            return composed
        return with_resolved_dates(question, self.base.answer(question, hits, history))

    def _from_facts(self, question: str, hits: Sequence[Hit]) -> Answer | None:
        order = list(dict.fromkeys(hit.chunk.article_id for hit in hits))
        if not order:
            return None
        role = asked_role(question)
        person_question = _WHICH_SESSION.search(question) is not None
        dated = role is None and not person_question and asks_event_date(question)
        naming = (
            role is None and not person_question and bool(_EVENT_NAME_QUESTION.search(question))
        )
        if role is None and not person_question and not dated and not naming:
            return None
        sourced = self.lookup(order)
        # An answer about another edition is wrong: "chi ha aperto l'edizione 2024" is not
        # answered from the 2023 article.
        candidates = [
            sourced[a] for a in order if a in sourced and same_occasion(question, sourced[a])
        ]
        if naming:
            return _event_name(question, candidates)
        if dated:
            if other_occasion_only(question, [sourced[a] for a in order if a in sourced]):
                return abstain(question, hits, "facts")
            return _event_dates(question, candidates)
        if person_question:
            answer = self._sessions_of_person(question, candidates)
            if answer is None and find_names(question) and _covering(question, candidates):
                logger.info("facts: the person asked about is not named at the event asked about")
                return abstain(question, hits, "facts")
            if answer is not None or role is None:
                return answer
        assert role is not None
        if other_occasion_only(question, [sourced[a] for a in order if a in sourced]):
            logger.info("facts: the articles about what is asked cover another edition")
            return abstain(question, hits, "facts")
        pick = self._pick(question, role, candidates, order)
        if pick is None:
            if _covering(question, candidates) is not None:
                logger.info("facts: the event asked about states no %s", role)
                return abstain(question, hits, "facts")
            return None
        people = _with_role(pick.sourced.facts, role, pick.session)
        if not people:
            logger.info(
                "facts: no %s stated for %s", role, pick.session.title if pick.session else "?"
            )
            return abstain(question, hits, "facts")
        return compose_role(
            question, role, pick.sourced, pick.session, people
        )  # None when a quote does not back it

    def _pick(
        self, question: str, role: str, candidates: Sequence[Sourced], order: Sequence[str]
    ) -> _Pick | None:
        """The article and session the question is about, or None when unsure."""
        terms = set(tokenize(with_exonyms(question))) - NOISE
        kind = _asked_kind(question)
        ordinal = session_ordinal(question)
        named = anchors(question)
        known = [a for a in named if any(a in fold(c.article.text) for c in candidates)]
        best: _Pick | None = None
        for sourced in candidates:
            facts = sourced.facts
            # A name the question gives ("AgriMech", "Ceramec") that another retrieved article
            # holds and this one lacks rules this one out.
            if any(a not in fold(sourced.article.text) for a in known):
                continue
            if not any(r.role == role for p in facts.people for r in p.roles):
                continue
            rank = order.index(facts.article_id)
            context = f"{sourced.article.title} " + " ".join(
                f"{e.name} {e.place or ''} {' '.join(str(d.year) for d in e.dates)}"
                for e in facts.events
            )
            article_score = 0.3 / (1 + rank) + 0.4 * overlap(terms, context)
            # What is left once the event, place and year are accounted for names the session.
            occasion = " ".join(
                f"{e.name} {e.place or ''} {' '.join(str(d.year) for d in e.dates)}"
                for e in facts.events
            )
            topic = (terms - set(tokenize(occasion))) or terms
            for session, score in self._sessions(question, topic, role, kind, ordinal, sourced):
                # A session whose people include the role asked is likelier the one meant.
                staffed = bool(_with_role(facts, role, session))
                total = article_score + score + (0.15 if staffed else 0.0)
                if best is None or total > best.score:
                    best = _Pick(sourced, session, total)
        return best

    def _sessions(
        self,
        question: str,
        terms: set[str],
        role: str,
        kind: str | None,
        ordinal: int | None,
        sourced: Sourced,
    ) -> list[tuple[Session | None, float]]:
        """The article's sessions that may be the asked one, each with how well it matches."""
        facts = sourced.facts
        if role in {"opening", "closing"}:
            return [(None, 0.5)]
        if role in {"award_winner", "award_presenter", "jury"}:
            awards = [s for s in facts.sessions if s.kind == "premiazione"]
            if len(awards) <= 1:
                return [(awards[0] if awards else None, 0.5)]
            return [(s, overlap(terms, s.title)) for s in awards]
        # A keynote's speaker holds the keynote role: a speaker question is about the others.
        wanted = {"keynote"} if role == "keynote" else _TALKS - {"keynote"}
        if kind is not None and role != "keynote":
            wanted = (
                {kind, "panel", "tavola_rotonda"} if kind in {"panel", "tavola_rotonda"} else {kind}
            )
        sessions = [s for s in facts.sessions if s.kind in wanted]
        if not sessions:
            return []
        if ordinal is not None:
            same_kind = [s for s in sessions if kind is None or s.kind == kind] or sessions
            return [(same_kind[ordinal], 0.6)] if ordinal < len(same_kind) else []
        cosines = self._session_cosines(question, sessions, sourced)
        scored = []
        lexical = [overlap(terms, session.title) for session in sessions]
        for n, (session, cosine) in enumerate(zip(sessions, cosines, strict=True)):
            meaning = 0.0
            if cosine is not None:
                others = [c for m, c in enumerate(cosines) if m != n and c is not None]
                margin = cosine - max(others) if others else 0.05
                # Meaning counts when this session is clearly the closest of the article's.
                meaning = min(max(margin / 0.03, 0.0), 1.0) * min(
                    max((cosine - 0.78) / 0.05, 0.0), 1.0
                )
            # A word of the question that only this session's title holds singles it out.
            alone = lexical[n] > 0 and all(v == 0 for m, v in enumerate(lexical) if m != n)
            scored.append((session, max(lexical[n], meaning, _MIN_MATCH if alone else 0.0)))
        if len(sessions) == 1:
            return [(sessions[0], max(scored[0][1], 0.5))]
        return [(s, v) for s, v in scored if v >= _MIN_MATCH]

    def _session_cosines(
        self, question: str, sessions: Sequence[Session], sourced: Sourced
    ) -> list[float | None]:
        """How close in meaning each session is: its title, or a sentence about it."""
        titles = self.similarity(question, [session_text(s) for s in sessions])
        if self.sentence_similarity is None:
            return titles
        text = sourced.article.text
        spans = [
            [(s.start, s.end)]
            + [(r.start, r.end) for p in sourced.facts.people for r in p.roles if r.session == s.id]
            for s in sessions
        ]
        flat = [text[a:b] for group in spans for a, b in group]
        found = iter(self.sentence_similarity(question, flat))
        cosines = []
        for title, group in zip(titles, spans, strict=True):
            values = [v for v in (next(found) for _ in group) if v is not None]
            if title is not None:
                values.append(title)
            cosines.append(max(values) if values else None)
        return cosines

    def _sessions_of_person(self, question: str, candidates: Sequence[Sourced]) -> Answer | None:
        """ "A quale panel ha partecipato X?": every role of the person the question names.

        The person is named ("Irene Zoffoli"), or described by job and organisation ("la
        direttrice finanziaria del gruppo Ceramec").
        """
        named = {fold(m.name) for m in find_names(question)}
        surnames = {fold(w) for w in re.findall(r"\b[A-ZÀ-Þ][\w'’-]+", question)}
        terms = set(tokenize(question)) - NOISE
        described: tuple[float, Person, Sourced] | None = None
        for sourced in candidates:
            for person in sourced.facts.people:
                if fold(person.name) in named or (
                    not named and fold(person.name.split()[-1]) in surnames
                ):
                    return compose_person(question, person, sourced)
                about = f"{person.job_title or ''} {person.organisation or ''}"
                score = overlap(terms, about) if about.strip() else 0.0
                if score >= 0.6 and (described is None or score > described[0]):
                    described = (score, person, sourced)
        if described is not None and not named:
            return compose_person(question, described[1], described[2])
        return None


def _covering(question: str, candidates: Sequence[Sourced]) -> Sourced | None:
    """The article whose event the question names in full ("… ai Toscana Creative Days"):
    every word of an event name of two words or more is in the question."""
    asked = set(tokenize(with_exonyms(question)))
    for sourced in candidates:
        for event in sourced.facts.events:
            words = set(tokenize(event.name)) - NOISE
            if len(words) >= 2 and all(any(cognates(w, q) for q in asked) for w in words):
                return sourced
    return None


_DATE_QUESTION = re.compile(
    r"\b(?:quando|in\s+che\s+(?:giorn[oi]|data|date)|in\s+quali\s+(?:giorni|date)|che\s+giorno|"
    r"when|what\s+(?:date|day)s?|which\s+(?:date|day)s?|on\s+what\s+date)\b",
    re.I,
)
_EVENT_WORDS = re.compile(
    r"\b(?:evento|event|edizione|edition|forum|summit|conferen\w+|convegno|congress\w*|"
    r"festival|fiera|fair|expo|meeting|days?|giornat\w+|salone|week|settimana)\b",
    re.I,
)
_NOT_EVENT_DATE = re.compile(
    r"\b(?:scadenz\w*|deadline|domand\w+|iscrizion\w*|registration|bando|call|entro|"
    r"webinar|prossim\w+|next|firmat\w*|signed|pubblicat\w*)\b",
    re.I,
)


_EVENT_NAME_QUESTION = re.compile(
    r"\b(?:come\s+si\s+(?:chiama|chiamava|intitola)|qual\s+è\s+il\s+nome|che\s+nome|"
    r"what\s+(?:is|was)\s+the\s+name|what\s+(?:is|was)\s+(?:the\s+)?\w*\s*event\s+called|"
    r"what\s+was\s+it\s+called)\b.*\b(?:evento|manifestazione|iniziativa|giornata|forum|"
    r"conferenza|convegno|fiera|event|conference|fair|forum|summit)\b",
    re.I,
)


def _event_name(question: str, candidates: Sequence[Sourced]) -> Answer | None:
    """ "Come si chiama l'evento…?": the name of the first retrieved article's event."""
    for sourced in candidates[:1]:
        if not sourced.facts.events:
            return None
        event = sourced.facts.events[0]
        quotes = Quotes(sourced)
        mark = quotes.mark(event.start, event.end)
        if fold(event.name) not in fold(quotes.quoted()):
            return None
        return Answer(
            f"{event.name} {mark}.", False, quotes.citations(), "facts", (), language(question)
        )
    return None


# Asked when an event happened, not when something else happened at or to it.
_TOOK_PLACE = re.compile(
    r"\b(?:svolt\w*|svolg\w*|tenut\w*|tenne|terr[àa]\w*|luogo|scena|programma|ospitat\w*|"
    r"took\s+place|take\s+place|held|happen\w*|schedul\w*)\b|"
    r"^(?:quando|when)\s+(?:è|era|sarà|is|was)\b",
    re.I,
)


def asks_event_date(question: str) -> bool:
    """True for "quando si è svolto il Forum…?" (not for a deadline or another date)."""
    return bool(
        _DATE_QUESTION.search(question)
        and _EVENT_WORDS.search(question)
        and _TOOK_PLACE.search(question)
        and not _NOT_EVENT_DATE.search(question)
    )


def _event_dates(question: str, candidates: Sequence[Sourced]) -> Answer | None:
    """When an event took place, from the first retrieved article that dates it."""
    terms = set(tokenize(with_exonyms(question))) - NOISE
    named = anchors(question)
    for sourced in candidates:
        if any(a not in fold(sourced.article.text) for a in named):
            continue
        dated = [e for e in sourced.facts.events if e.dates and e.dates_as_written]
        if not dated:
            continue
        event = max(dated, key=lambda e: overlap(terms, e.name))
        if overlap(terms, f"{event.name} {sourced.article.title}") < 0.3:
            continue
        lang = language(question)
        quotes = Quotes(sourced)
        mark = quotes.mark(event.start, event.end)
        resolved = format_dates(event.dates, lang)
        written = event.dates_as_written or ""
        text = f"{event.name}: {resolved} {mark}."
        if fold(written) not in fold(resolved):  # "ieri", "venerdì scorso": say what it was
            said = "as written" if lang == "en" else "nell'articolo"
            text = f"{event.name}: {resolved} ({said}: «{written}») {mark}."
        citations = quotes.citations()
        if fold(event.name) not in fold(quotes.quoted() + " " + sourced.article.title):
            return None
        return Answer(text, False, citations, "facts", (), lang)
    return None


def _with_role(facts: Facts, role: str, session: Session | None) -> list[tuple[Person, int]]:
    """People with `role` (in `session` when given), each with the index of that role."""
    found = []
    for person in facts.people:
        for index, r in enumerate(person.roles):
            if r.role == role and (session is None or r.session == session.id):
                found.append((person, index))
                break
    return found
