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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

from index.lexical import tokenize
from index.types import Hit
from ingest.facts.dates import find_dates
from ingest.facts.names import find_names, fold
from ingest.facts.types import Facts, Person, Session
from ingest.types import Article, Chunk
from server.answer.answerer import Answer, Answerer, Citation, Named, Turn, abstain
from server.answer.cues import language, question_kind

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sourced:
    """An article with its stored chunks and extracted facts."""

    article: Article
    chunks: tuple[Chunk, ...]
    facts: Facts


FactsLookup = Callable[[Sequence[str]], Mapping[str, Sourced]]


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
_ORDINALS = {
    "primo": 0, "prima": 0, "first": 0, "secondo": 1, "seconda": 1, "second": 1,
    "terzo": 2, "terza": 2, "third": 2, "quarto": 3, "quarta": 3, "fourth": 3,
}  # fmt: skip
# Words that say what is asked, not which session: they carry no evidence of a match.
_NOISE = frozenset(
    tokenize(
        "chi who whom quale quali which what che ha hanno è stato stata sono stati was were did "
        "parlato intervenuto intervenuta intervenuti relatori relatrici partecipato moderato "
        "moderatore moderatrice aperto chiuso lavori vinto premiato consegnato giuria coordinato "
        "spoke speak speakers moderated opened closed won jury coordinated panel tavola rotonda "
        "sessione session workshop keynote evento event the on at of a al alla del della nel "
        "nella in"
    )
)
# Below this, a session is not taken as the one the question names (unless it is the only one).
_MIN_MATCH = 0.45


_ORDINAL_WORDS = {
    w: n
    for n, words in enumerate(
        [
            ("prima", "primo", "first", "1st", "1ª", "1a"),
            ("seconda", "secondo", "second", "2nd", "2ª", "2a"),
            ("terza", "terzo", "third", "3rd", "3ª", "3a"),
            ("quarta", "quarto", "fourth", "4th", "4ª", "4a"),
            ("quinta", "quinto", "fifth", "5th", "5ª", "5a"),
            ("sesta", "sesto", "sixth", "6th", "6ª", "6a"),
            ("settima", "settimo", "seventh", "7th", "7ª", "7a"),
            ("ottava", "ottavo", "eighth", "8th", "8ª", "8a"),
            ("nona", "nono", "ninth", "9th", "9ª", "9a"),
            ("decima", "decimo", "tenth", "10th", "10ª", "10a"),
        ],
        start=1,
    )
    for w in words
}
_EDITION_OF = re.compile(
    r"\b(\w+)\s+(?:edizione|edition)\b|\b(?:edizione|edition)\s+(\d{4})\b", re.I
)
_YEAR = re.compile(r"\b(20\d\d)\b")
# English names of Italian and European cities, as English questions write them.
_EXONYMS = {
    "turin": "torino", "milan": "milano", "florence": "firenze", "venice": "venezia",
    "naples": "napoli", "genoa": "genova", "rome": "roma", "padua": "padova",
    "mantua": "mantova", "brussels": "bruxelles", "munich": "monaco", "leghorn": "livorno",
    "seville": "siviglia", "lyons": "lione", "lyon": "lione", "marseille": "marsiglia",
    "barcelona": "barcellona", "cologne": "colonia", "nuremberg": "norimberga",
    "syracuse": "siracusa", "sicily": "sicilia", "sardinia": "sardegna", "tuscany": "toscana",
    "lombardy": "lombardia", "piedmont": "piemonte", "apulia": "puglia",
}  # fmt: skip


def _with_exonyms(question: str) -> str:
    """The question with English city and region names followed by their Italian names."""
    return re.sub(
        r"\b[A-Z][a-z]+\b",
        lambda m: (
            f"{m.group(0)} {_EXONYMS[m.group(0).lower()]}"
            if m.group(0).lower() in _EXONYMS
            else m.group(0)
        ),
        question,
    )


def edition_number(text: str | None) -> int | None:
    """2 for "seconda edizione", "second edition", "2ª edizione"; None when none is stated."""
    for match in _EDITION_OF.finditer(text or ""):
        if match.group(1) and match.group(1).lower() in _ORDINAL_WORDS:
            return _ORDINAL_WORDS[match.group(1).lower()]
    return None


def _years(sourced: Sourced) -> set[int]:
    """The years an article is about: its events' dates, else its publication and title."""
    event_years = {d.year for e in sourced.facts.events for d in e.dates}
    if event_years:
        return event_years
    found = {int(y) for y in _YEAR.findall(sourced.article.title)}
    if sourced.article.published:
        found.add(sourced.article.published.year)
    return found


def _editions(sourced: Sourced) -> set[int]:
    return {n for e in sourced.facts.events if (n := edition_number(e.edition)) is not None}


def same_occasion(question: str, sourced: Sourced) -> bool:
    """False when the question names a year or an edition the article is not about."""
    asked_years = {int(y) for y in _YEAR.findall(question)}
    if asked_years and not asked_years & _years(sourced):
        return False
    asked_edition = edition_number(question)
    editions = _editions(sourced)
    return asked_edition is None or not editions or asked_edition in editions


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


def _prefixes(terms: set[str]) -> set[str]:
    """Stems cut to five letters: "energia" meets "energetica", "cybersecurity" "cybersicurezza"."""
    return {t[:5] for t in terms}


def _overlap(question_terms: set[str], text: str) -> float:
    """Share of the shorter side's terms that the other holds (five-letter prefixes)."""
    terms = _prefixes(set(tokenize(text)) - _NOISE)
    asked = _prefixes(question_terms)
    if not terms or not asked:
        return 0.0
    return len(terms & asked) / min(len(terms), len(asked))


_SESSION_ORDINAL = re.compile(
    r"\b(" + "|".join(_ORDINALS) + r")\s+(?:panel|tavola|sessione|session|workshop|round|"
    r"keynote|talk|dibattito|debate|incontro)",
    re.I,
)
_MONTH_OR_DAY = re.compile(
    r"^(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$",
    re.I,
)


def _other_occasion_only(question: str, retrieved: Sequence[Sourced]) -> bool:
    """True when the articles that hold the question's names are all about another edition.

    "Chi ha vinto il Premio X nell'edizione 2024?" when only the 2023 article names the
    Premio X: the answer is not in the articles, whatever the 2024 articles say of other prizes.
    """
    texts = [fold(s.article.text + " " + s.article.title) for s in retrieved]
    known = [a for a in _anchors(question) if any(a in t for t in texts)]
    holders = [s for s, t in zip(retrieved, texts, strict=True) if all(a in t for a in known)]
    # Only event news can be about "another edition": a page without sessions is not.
    if not holders or not any(h.facts.sessions for h in holders):
        return False
    return not any(same_occasion(question, h) for h in holders)


def _session_ordinal(question: str) -> int | None:
    """1 for "il secondo panel", "the second panel" (an edition's ordinal does not count)."""
    match = _SESSION_ORDINAL.search(question)
    return _ORDINALS[match.group(1).lower()] if match else None


def _anchors(question: str) -> list[str]:
    """Folded capitalised words inside the question (not its first word): names it gives."""
    words = re.findall(r"(?<=\s)[A-ZÀ-Þ][\w'’-]{2,}", _with_exonyms(question))
    return [fold(w) for w in words if w.lower() not in _EXONYMS and not _MONTH_OR_DAY.match(w)]


def _join(names: Sequence[str], lang: str) -> str:
    if len(names) == 1:
        return names[0]
    conjunction = " and " if lang == "en" else " e "
    return ", ".join(names[:-1]) + conjunction + names[-1]


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
            if _other_occasion_only(question, [sourced[a] for a in order if a in sourced]):
                return abstain(question, hits, "facts")
            return _event_dates(question, candidates)
        if person_question:
            answer = self._sessions_of_person(question, candidates)
            if answer is not None or role is None:
                return answer
        assert role is not None
        if _other_occasion_only(question, [sourced[a] for a in order if a in sourced]):
            logger.info("facts: the articles about what is asked cover another edition")
            return abstain(question, hits, "facts")
        pick = self._pick(question, role, candidates, order)
        if pick is None:
            return None
        people = _with_role(pick.sourced.facts, role, pick.session)
        if not people:
            logger.info(
                "facts: no %s stated for %s", role, pick.session.title if pick.session else "?"
            )
            return abstain(question, hits, "facts")
        return _compose(question, role, pick, people)  # None when a quote does not back it

    def _pick(
        self, question: str, role: str, candidates: Sequence[Sourced], order: Sequence[str]
    ) -> _Pick | None:
        """The article and session the question is about, or None when unsure."""
        terms = set(tokenize(_with_exonyms(question))) - _NOISE
        kind = _asked_kind(question)
        ordinal = _session_ordinal(question)
        anchors = _anchors(question)
        known = [a for a in anchors if any(a in fold(c.article.text) for c in candidates)]
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
            article_score = 0.3 / (1 + rank) + 0.4 * _overlap(terms, context)
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
            return [(s, _overlap(terms, s.title)) for s in awards]
        wanted = {"keynote"} if role == "keynote" else _TALKS
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
        lexical = [_overlap(terms, session.title) for session in sessions]
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
        titles = self.similarity(question, [_session_text(s) for s in sessions])
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
        terms = set(tokenize(question)) - _NOISE
        described: tuple[float, Person, Sourced] | None = None
        for sourced in candidates:
            for person in sourced.facts.people:
                if fold(person.name) in named or (
                    not named and fold(person.name.split()[-1]) in surnames
                ):
                    return _compose_person(question, person, sourced)
                about = f"{person.job_title or ''} {person.organisation or ''}"
                score = _overlap(terms, about) if about.strip() else 0.0
                if score >= 0.6 and (described is None or score > described[0]):
                    described = (score, person, sourced)
        if described is not None and not named:
            return _compose_person(question, described[1], described[2])
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
_IT_MONTHS = (
    *("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto"),
    *("settembre", "ottobre", "novembre", "dicembre"),
)
_EN_MONTHS = (
    *("January", "February", "March", "April", "May", "June", "July", "August"),
    *("September", "October", "November", "December"),
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
        quotes = _Quotes(sourced)
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


def _event_dates(question: str, candidates: Sequence[Sourced]) -> Answer | None:
    """When an event took place, from the first retrieved article that dates it."""
    terms = set(tokenize(_with_exonyms(question))) - _NOISE
    anchors = _anchors(question)
    for sourced in candidates:
        if any(a not in fold(sourced.article.text) for a in anchors):
            continue
        dated = [e for e in sourced.facts.events if e.dates and e.dates_as_written]
        if not dated:
            continue
        event = max(dated, key=lambda e: _overlap(terms, e.name))
        if _overlap(terms, f"{event.name} {sourced.article.title}") < 0.3:
            continue
        lang = language(question)
        quotes = _Quotes(sourced)
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


def _session_text(session: Session) -> str:
    """What is embedded of a session: its kind and title ("tavola rotonda: Moda digitale")."""
    return f"{_EN_KIND[session.kind]}: {session.title}"


def _with_role(facts: Facts, role: str, session: Session | None) -> list[tuple[Person, int]]:
    """People with `role` (in `session` when given), each with the index of that role."""
    found = []
    for person in facts.people:
        for index, r in enumerate(person.roles):
            if r.role == role and (session is None or r.session == session.id):
                found.append((person, index))
                break
    return found


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


class _Quotes:
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
        "jury": f"Nella giuria {_label(session, lang).replace('il premio', 'del premio')}".rstrip(),
        "coordinator": f"{verb.capitalize()} coordinato {_label(session, lang) or 'il workshop'}",
    }[role]


def _compose(
    question: str, role: str, pick: _Pick, people: list[tuple[Person, int]]
) -> Answer | None:
    lang = language(question)
    quotes = _Quotes(pick.sourced)
    session = pick.session
    lead = _phrase(role, session, lang, plural=len(people) > 1)
    session_mark = quotes.mark(session.start, session.end) if session else ""
    names = []
    named = []
    for person, index in people:
        r = person.roles[index]
        mark = quotes.mark(r.start, r.end)
        names.append(f"{person.name} {mark}")
        named.append(
            Named(person.name, role, person.organisation, person.job_title, int(mark[1:-1]))
        )
    text = f"{lead}{' ' + session_mark if session_mark else ''}: {_join(names, lang)}."
    text = re.sub(r"\s+", " ", text).replace(" :", ":")
    citations = quotes.citations()
    if not composed_is_quoted(text, citations):
        logger.warning("facts: composed answer not backed by its quotes; falling back")
        return None
    return Answer(text, False, citations, "facts", (), lang, tuple(named))


def _compose_person(question: str, person: Person, sourced: Sourced) -> Answer | None:
    lang = language(question)
    quotes = _Quotes(sourced)
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
