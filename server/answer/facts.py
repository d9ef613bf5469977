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
from dataclasses import dataclass

from index.lexical import tokenize
from index.types import Hit
from ingest.facts.names import find_names, fold
from ingest.facts.types import Facts, Person, Session
from ingest.types import Article, Chunk
from server.answer.answerer import Answer, Answerer, Citation, Turn, abstain
from server.answer.cues import language

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sourced:
    """An article with its stored chunks and extracted facts."""

    article: Article
    chunks: tuple[Chunk, ...]
    facts: Facts


FactsLookup = Callable[[Sequence[str]], Mapping[str, Sourced]]
Similarity = Callable[[str, Sequence[str]], Sequence[float | None]]

# What a who-question asks for; the first that matches wins ("chi ha consegnato il premio"
# is about the presenter, not the winner).
_ASKED: tuple[tuple[str, str], ...] = (
    ("moderator", r"moder|chair|\bhost(?:ed)?\b"),
    (
        "award_presenter",
        r"consegn|present(?:ed)?\s+the\s+(?:award|prize)|hand(?:ed)?\s+(?:out|over)",
    ),
    ("jury", r"giuri|giudic|\bjury|\bjudges?\b"),
    (
        "award_winner",
        r"\bvint|vincit|premiat|aggiudic|\bwon\b|\bwin(?:ner)?s?\b|award(?:ed)?|prize|premio",
    ),
    ("keynote", r"keynote|lectio"),
    ("opening", r"\bapert|\baprir|\bsaluti|\bopen(?:ed|ing)?\b|welcom"),
    ("closing", r"\bchius|\bchiuder|conclus|\bclos(?:ed|ing)\b|conclud"),
    ("coordinator", r"coordin|guidat|\bled\b|\bran\b|\brun\b"),
    (
        "speaker",
        r"parlat|intervenut|relator|relatric|partecipat|preso\s+parte|sul\s+palco|discuss|\bspoke|\bspeak|panel+ists?|took\s+part|talk|on\s+stage|\bwho\s+(?:was|were)\s+on",
    ),
)
_WHO = re.compile(r"\b(?:chi|who|whom|quali\s+relator\w*|da\s+chi|by\s+whom)\b", re.I)
_WHICH_SESSION = re.compile(
    r"\b(?:(?:a|in|per)\s+)?(?:quale|quali|che|which|what)\s+(?:panel|sessione|sessioni|session|"
    r"sessions|tavola|tavole|workshop|keynote|talk|evento|ruolo|ruoli|role|roles|incontro|dibattito)\b",
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


@dataclass(frozen=True, slots=True)
class _Pick:
    sourced: Sourced
    session: Session | None
    score: float


def asked_role(question: str) -> str | None:
    """The role a who-question asks about, or None when it is not one."""
    if not _WHO.search(question):
        return None
    lowered = question.lower()
    return next((role for role, pattern in _ASKED if re.search(pattern, lowered)), None)


def _asked_kind(question: str) -> str | None:
    lowered = question.lower()
    return next((kind for kind, pattern in _KIND_WORDS if re.search(pattern, lowered)), None)


def _overlap(question_terms: set[str], text: str) -> float:
    terms = set(tokenize(text)) - _NOISE
    if not terms or not question_terms:
        return 0.0
    shared = len(terms & question_terms)
    return shared / min(len(terms), len(question_terms))


def _join(names: Sequence[str], lang: str) -> str:
    if len(names) == 1:
        return names[0]
    conjunction = " and " if lang == "en" else " e "
    return ", ".join(names[:-1]) + conjunction + names[-1]


class FactsAnswerer:
    """Answers role questions from extracted facts; everything else goes to `base`."""

    def __init__(
        self, base: Answerer, lookup: FactsLookup, similarity: Similarity | None = None
    ) -> None:
        self.base = base
        self.lookup = lookup
        self.similarity = similarity

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn] = ()) -> Answer:
        """A composed, cited answer for a role question, else the wrapped answerer's."""
        try:
            composed = self._from_facts(question, hits)
        except Exception:  # a facts problem must never cost the member an answer
            logger.exception("facts answer failed; answering from sentences")
            composed = None
        return composed if composed is not None else self.base.answer(question, hits, history)

    def _from_facts(self, question: str, hits: Sequence[Hit]) -> Answer | None:
        order = list(dict.fromkeys(hit.chunk.article_id for hit in hits))
        if not order:
            return None
        role = asked_role(question)
        person_question = _WHICH_SESSION.search(question) is not None
        if role is None and not person_question:
            return None
        sourced = self.lookup(order)
        candidates = [sourced[a] for a in order if a in sourced]
        if person_question:
            answer = self._sessions_of_person(question, candidates)
            if answer is not None or role is None:
                return answer
        assert role is not None
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
        terms = set(tokenize(question)) - _NOISE
        kind = _asked_kind(question)
        ordinal = next(
            (n for word, n in _ORDINALS.items() if re.search(rf"\b{word}\b", question, re.I)), None
        )
        best: _Pick | None = None
        for sourced in candidates:
            facts = sourced.facts
            if not any(r.role == role for p in facts.people for r in p.roles):
                continue
            rank = order.index(facts.article_id)
            context = f"{sourced.article.title} " + " ".join(
                f"{e.name} {e.place or ''} {' '.join(str(d.year) for d in e.dates)}"
                for e in facts.events
            )
            article_score = 0.3 / (1 + rank) + 0.4 * _overlap(terms, context)
            for session, score in self._sessions(question, terms, role, kind, ordinal, sourced):
                total = article_score + score
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
        quotes = [sourced.article.text[s.start : s.end] for s in sessions]
        dense = list(self.similarity(question, quotes)) if self.similarity else [None] * len(quotes)
        scored = []
        for session, cosine in zip(sessions, dense, strict=True):
            lexical = _overlap(terms, session.title)
            meaning = 0.0 if cosine is None else min(max((cosine - 0.78) / 0.1, 0.0), 1.0)
            scored.append((session, max(lexical, 0.8 * meaning)))
        if len(sessions) == 1:
            return [(sessions[0], max(scored[0][1], 0.5))]
        return [(s, v) for s, v in scored if v >= _MIN_MATCH]

    def _sessions_of_person(self, question: str, candidates: Sequence[Sourced]) -> Answer | None:
        """ "A quale panel ha partecipato X?": every role of the person the question names."""
        named = {fold(m.name) for m in find_names(question)}
        surnames = set(re.findall(r"\b[A-ZÀ-Þ][\w'’-]+", question))
        for sourced in candidates:
            for person in sourced.facts.people:
                full = fold(person.name)
                if full in named or (not named and person.name.split()[-1] in surnames):
                    return _compose_person(question, person, sourced)
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
    if lang == "en":
        return f"the {_EN_KIND[session.kind]} «{session.title}»"
    return f"{_IT_KIND[session.kind][1 if to else 0]} «{session.title}»"


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
        "speaker": f"{_label(session, lang, to=True).capitalize()} {verb} parlato"
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
    for person, index in people:
        r = person.roles[index]
        mark = quotes.mark(r.start, r.end)
        names.append(f"{person.name}{_organisation(person)} {mark}")
    text = f"{lead}{' ' + session_mark if session_mark else ''}: {_join(names, lang)}."
    text = re.sub(r"\s+", " ", text).replace(" :", ":")
    citations = quotes.citations()
    if not composed_is_quoted(text, citations):
        logger.warning("facts: composed answer not backed by its quotes; falling back")
        return None
    return Answer(text, False, citations, "facts", (), lang)


def _organisation(person: Person) -> str:
    if person.organisation and len(person.organisation) <= 60:
        return f" ({person.organisation})"
    return ""


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
