"""Article → Facts: events, sessions, people and roles found by rules and gazetteers.

The article is walked unit by unit (a sentence, a programme table row or a list item). A unit
that names a session makes it the current one; people named in a unit take the role of the
cue that governs them ("ha moderato", "sul palco", "giuria"...), and people named without a
cue while a panel is current are its speakers. Everything carries the offsets of its unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.facts.dates import find_dates
from ingest.facts.names import NameMention, find_names, fold
from ingest.facts.roles import CLAUSE_END, Cue, find_cues
from ingest.facts.sessions import SessionMention, find_sessions, same_title
from ingest.facts.types import Event, Facts, Person, Role, Session
from ingest.sentences import sentence_spans
from ingest.types import Article

# Bumped whenever extraction changes, so `clusterchat reindex` recomputes stored facts.
EXTRACTOR_VERSION = "7"

# Kinds whose people, named without a cue, are the session's speakers.
_TALK_KINDS = {"panel", "tavola_rotonda", "workshop", "plenaria"}
# How many units after a session's mention its people may follow without a cue.
_CONTEXT_UNITS = 4


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence, table row or list item: the span a fact is quoted from."""

    start: int
    end: int
    paragraph: int
    row: bool  # a table row or list item: its session is its own


def units(text: str) -> list[Unit]:
    """Split the article into sentences, keeping table rows and list items whole."""
    found: list[Unit] = []
    for number, para in enumerate(re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text)):
        lines = list(re.finditer(r"[^\n]+", para.group(0)))
        if any(re.match(r"\s*(?:\||[-•*–]\s)", line.group(0)) for line in lines):
            for line in lines:
                start, end = para.start() + line.start(), para.start() + line.end()
                if re.fullmatch(r"[\s|:-]*", text[start:end]):
                    continue  # a table's rule line
                found.append(Unit(start, end, number, True))
            continue
        # Single newlines inside a paragraph (PDF line breaks) do not end a sentence.
        flat = text[: para.end()].replace("\n", " ")
        for start, end in sentence_spans(flat, para.start(), para.end()):
            found.append(Unit(start, end, number, False))
    return found


@dataclass
class _Draft:
    """A person while the article is read: name, first appositive, roles found so far."""

    name: str
    organisation: str | None = None
    job_title: str | None = None
    roles: list[tuple[str, int | None, int, int, bool]] = field(default_factory=list)


_DETERMINERS = frozenset("il lo la i gli le un una uno l".split())  # noqa: SIM905
# Job nouns that may be capitalised after a name ("Thierry Breton, Commissario europeo …").
_JOB_NOUNS = frozenset(
    """
    commissario commissaria presidente vicepresidente direttore direttrice ministro ministra
    assessore assessora sindaco sindaca segretario segretaria manager ceo amministratore
    amministratrice responsabile coordinatore coordinatrice rettore rettrice consigliere
    consigliera fondatore fondatrice professore professoressa docente ricercatore ricercatrice
    """.split()  # noqa: SIM905
)
# "Anna Pedrali, per un processo …" starts a complement, not a job title.
_PREPOSITIONS = frozenset("per con su tra fra in a da".split())  # noqa: SIM905
_APPOSITIVE = re.compile(r"\s*(?:\(([^)]{2,80})\)|,\s+([^,;.()«»|]{3,120}))")
_OF = re.compile(r"\s(?:di|del|della|dello|dell['’]|dei|degli|delle|at|of)\s*(?=[A-ZÀ-Þ])")


def _appositive(text: str, mention: NameMention, end: int) -> tuple[str | None, str | None]:
    """(organisation, job title) written right after a name: ", direttrice di X" or "(X)"."""
    match = _APPOSITIVE.match(text, mention.end, end)
    if not match:
        return None, None
    if match.group(1):
        return re.sub(r"\s+", " ", match.group(1)).strip(), None
    phrase = re.sub(r"\s+", " ", match.group(2)).strip()
    phrase = re.split(r"\s+(?:e|che|ha|hanno|è|sono|con|per)\s+", phrase)[0]
    words = phrase.split()
    if not words or len(words) > 14 or fold(words[0]) in _DETERMINERS | _PREPOSITIONS:
        return None, None  # "Elisabetta Bracci, i cluster sono emersi…" is no job title
    if not phrase[0].islower() and fold(words[0]) not in _JOB_NOUNS:
        return None, None
    of = _OF.search(phrase)
    if of is None:
        return None, phrase
    return phrase[of.end() :].strip() or None, phrase[: of.start()].strip() or None


# An award that goes to an organisation ("è andato a Sensoria Mobility, … a ritirarlo è stato
# il cofondatore X"; "Menzione speciale per Stampaggi Valtrompia, rappresentata da X").
_AWARDED_TO = re.compile(
    r"(?:(?:è|sono)\s+(?:andat[oaie]|stat[oaie]\s+(?:assegnat|attribuit|conferit)[oaie])"
    r"|[Mm]enzion[ei]\s+special[ei](?:\s+(?:è|sono)\s+andat[ae])?|(?:ha|hanno)\s+premiato)"
    r"\s+(?:a|ad|al|alla|allo|all['’]|per|la|il)\s*"
    r"(?P<org>[A-ZÀ-Þ][\w&'’.-]*(?:\s+(?:&\s+)?[A-ZÀ-Þ0-9][\w&'’.-]*){0,4})"
)


def _award_organisations(text: str, unit: Unit, names: list[NameMention]) -> dict[int, str]:
    """Name index -> the organisation an award went to, for the first name after it.

    The organisation is the capitalised phrase after an award verb that is not itself a
    person's name; the person is the first name after it, before the next award phrase.
    """
    found = [
        m
        for m in _AWARDED_TO.finditer(text, unit.start, unit.end)
        if not any(n.start <= m.start("org") < n.end for n in names)
    ]
    orgs: dict[int, str] = {}
    for k, match in enumerate(found):
        stop = found[k + 1].start() if k + 1 < len(found) else unit.end
        after = [i for i, n in enumerate(names) if match.end("org") <= n.start < stop]
        if after:
            orgs[after[0]] = match.group("org").rstrip(".")
    return orgs


# A relative clause about what someone did before ("X, che un anno fa aveva firmato il
# keynote", "che nel 2023 sedeva tra i relatori", "che aveva aperto l'edizione 2023") states
# no role at this event: its role words and session words are not read.
_BACKGROUND = re.compile(
    r",\s+che\s+(?=[^;|]*?\b(?:aveva|avevano|era\s+stat[oa]|erano\s+stat[ie]|sedeva|sedevano|"
    r"un\s+anno\s+fa|l['’]anno\s+scorso|mesi\s+prima|anni\s+fa|(?:all['’]|nell['’])?edizione\s+"
    r"precedente|scorsa\s+edizione)\b)[^;|]*"
)


def _background(text: str, unit: Unit) -> list[tuple[int, int]]:
    return [m.span() for m in _BACKGROUND.finditer(text, unit.start, unit.end)]


def _inside(offset: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= offset < end for start, end in spans)


_VERB_BETWEEN = re.compile(r"\s(?:ha|hanno|è|sono|era|erano|che|il\s+quale|la\s+quale)\s")


def _list_after(names: list[NameMention], first: int, reach: int, text: str) -> list[int]:
    """`first` and the names listed after it ("A, …, B e C") before `reach`."""
    taken = [first]
    for i in range(first + 1, len(names)):
        if names[i].start >= reach or _VERB_BETWEEN.search(text, names[i - 1].end, names[i].start):
            break
        taken.append(i)
    return taken


def _governed(cues: list[Cue], names: list[NameMention], text: str) -> dict[int, list[Cue]]:
    """For each name (by index), the cues that govern it.

    A cue takes the list of names that follows it in its clause, up to the next cue; when no
    name stands before the next cue it reaches on to the clause's end ("a ritirarlo è salito
    sul palco il fondatore X"). A cue with no name after it may take the nearest name before
    it ("X ha moderato"). Speaker words are the weakest: any other role wins over them.
    """
    governs: dict[int, list[Cue]] = {}
    free = set(range(len(names)))
    for n, cue in enumerate(cues):
        clause_end = CLAUSE_END.search(text, cue.end)
        reach = clause_end.start() if clause_end else len(text)
        later = [c.start for c in cues[n + 1 :] if c.start < reach]
        if later and cue.role == "speaker":
            reach = later[0]  # speaker words never reach past another role word
        first = next((i for i in sorted(free) if cue.end <= names[i].start < reach), None)
        if first is not None:
            stop = later[0] if later and names[first].start < later[0] else reach
            for i in _list_after(names, first, stop, text):
                if i in free:
                    governs.setdefault(i, []).append(cue)
                    free.discard(i)
            continue
        if not cue.backward:
            continue
        floor = cues[n - 1].end if n else 0
        clause_start = max([floor, *(m.end() for m in CLAUSE_END.finditer(text, floor, cue.start))])
        before = [i for i, m in enumerate(names) if clause_start <= m.start and m.end <= cue.start]
        if before:
            governs.setdefault(before[-1], []).append(cue)
            free.discard(before[-1])
    for i, found in governs.items():
        strong = [c for c in found if c.role != "speaker"]
        governs[i] = strong or found
    return governs


class _Reader:
    """Walks the units of one article and collects sessions and people."""

    def __init__(self, article: Article) -> None:
        self.text = article.text
        self.sessions: list[Session] = []
        self.people: dict[str, _Draft] = {}
        self.current: int | None = None  # index into self.sessions
        self.current_unit = -10

    def session_for(self, mention: SessionMention, unit: Unit) -> int | None:
        if mention.title is None:
            same_kind = [i for i, s in enumerate(self.sessions) if s.kind == mention.kind]
            if self.current is not None and self.sessions[self.current].kind == mention.kind:
                return self.current
            return same_kind[-1] if len(same_kind) == 1 else None
        for i, session in enumerate(self.sessions):
            if same_title(session.title, mention.title):
                if session.kind == "other" and mention.kind != "other":
                    self.sessions[i] = Session(
                        session.id, session.title, mention.kind, None, session.start, session.end
                    )
                return i
        self.sessions.append(
            Session(
                f"s{len(self.sessions) + 1}",
                mention.title,
                mention.kind,
                None,
                unit.start,
                unit.end,
            )
        )
        return len(self.sessions) - 1

    def session_of_kind(self, *kinds: str, titled: str | None = None) -> int | None:
        matches = [
            i for i, s in enumerate(self.sessions)
            if s.kind in kinds and (titled is None or re.search(titled, s.title, re.I))
        ]  # fmt: skip
        return matches[0] if len(matches) == 1 else None

    def link(self, role: str, here: int | None) -> int | None:
        """The session a role belongs to, given the session named in its unit (if any)."""
        if role == "opening":
            return self.session_of_kind("other", titled=r"salut|apertura")
        if role == "closing":
            return self.session_of_kind("other", titled=r"conclusion|chiusura")
        if role in {"award_winner", "award_presenter", "jury"}:
            if here is not None and self.sessions[here].kind == "premiazione":
                return here
            return self.session_of_kind("premiazione")
        if role == "keynote":
            if here is not None and self.sessions[here].kind == "keynote":
                return here
            return self.session_of_kind("keynote")
        return here

    def read(self, unit: Unit, index: int) -> None:
        text = self.text
        # Programme slots without a title ("Saluti istituzionali") are sessions only in a
        # programme row; in prose those words are role cues.
        past = _background(text, unit)
        mentions = [
            m
            for m in find_sessions(text, unit.start, unit.end)
            if (unit.row or m.kind != "other") and not _inside(m.start, past)
        ]
        names = find_names(text, unit.start, unit.end)
        named_here: int | None = None
        for session_mention in mentions:
            found = self.session_for(session_mention, unit)
            if found is not None:
                named_here = found
        if named_here is not None:
            self.current, self.current_unit = named_here, index
        elif unit.row:
            self.current = None  # a row without a session is not about the last one
        if not names:
            return
        cues = [c for c in find_cues(text, unit.start, unit.end) if not _inside(c.start, past)]
        governs = _governed(cues, names, text[: unit.end])
        recent = self.current if index - self.current_unit <= _CONTEXT_UNITS else None
        awarded = _award_organisations(text, unit, names)
        for i, mention in enumerate(names):
            draft = self.people.setdefault(fold(mention.name), _Draft(mention.name))
            if draft.organisation is None and draft.job_title is None:
                draft.organisation, draft.job_title = _appositive(text, mention, unit.end)
            roles = {cue.role for cue in governs.get(i, [])}
            if "award_winner" in roles and i in awarded and draft.organisation is None:
                draft.organisation = awarded[i]
            explicit = bool(roles)
            if not roles and recent is not None:
                default = self._default_role(recent)
                roles = {default} if default else set()
            for role in roles:
                # Linked once the whole article is read: the programme may come later.
                draft.roles.append((role, recent, unit.start, unit.end, explicit))

    def linked(self) -> dict[str, _Draft]:
        """The people with each role's session resolved against every session found."""
        for draft in self.people.values():
            resolved = []
            for role, here, start, end, explicit in draft.roles:
                session = self.link(role, here)
                if (
                    role == "moderator"
                    and session is not None
                    and self.sessions[session].kind == "workshop"
                ):
                    role = "coordinator"  # who leads a workshop coordinates it
                resolved.append((role, session, start, end, explicit))
            draft.roles = resolved
        return self.people

    def _default_role(self, session: int) -> str | None:
        kind, title = self.sessions[session].kind, self.sessions[session].title
        if kind in _TALK_KINDS:
            return "speaker"
        if kind == "keynote":
            return "keynote"
        if kind == "other":
            return "opening" if re.search(r"salut|apertura", title, re.I) else "closing"
        return None


def _people(drafts: dict[str, _Draft]) -> tuple[Person, ...]:
    people = []
    for draft in drafts.values():
        explicit = {(r, s) for r, s, _, _, e in draft.roles if e}
        seen: set[tuple[str, int | None]] = set()
        roles = []
        for role, session, start, end, is_explicit in draft.roles:
            # A role stated in words wins over one inferred from the programme for that session.
            if not is_explicit and any(s == session and r != role for r, s in explicit):
                continue
            if (role, session) in seen:
                continue
            seen.add((role, session))
            roles.append(Role(role, None if session is None else f"s{session + 1}", start, end))
        if roles:
            people.append(Person(draft.name, draft.organisation, draft.job_title, tuple(roles)))
    return tuple(people)


_EVENT_HEAD = (
    r"Forum|Summit|Conference|Conferenza|Convegno|Congresso|Festival|Fiera|Expo|Meeting|"
    r"Days?|Giornat[ae]|Salone|Settimana|Week|Stati\s+generali|Hackathon|Assemblea|Simposio|Symposium"
)
_CAP = r"[A-ZÀ-Þ][\w'’&-]*"
_EVENT = re.compile(
    rf"((?:{_CAP}\s+){{0,4}}(?:{_EVENT_HEAD})(?:\s+(?:(?:della|del|dei|delle|di|dell['’]|degli)\s*)?{_CAP}){{0,4}}(?:\s+\d{{4}})?)"
)
_EDITION = re.compile(
    r"\b((?:prima|seconda|terza|quarta|quinta|sesta|settima|ottava|nona|decima|undicesima|"
    r"dodicesima|\d{1,2}[ªa°])\s+edizione)\b",
    re.I,
)
_PLACE = re.compile(
    r"\b(?:a|ad|in)\s+([A-Z][a-zà-ù'’]+(?:\s+(?:[A-Z][a-zà-ù]+|d['’][A-Z][a-zà-ù]+)){0,2})"
)
_NOT_PLACE = re.compile(
    r"^(?:Gennaio|Febbraio|Marzo|Aprile|Maggio|Giugno|Luglio|Agosto|Settembre|Ottobre|Novembre|Dicembre|Europa|Italia)$"
)


def _event_name(found: str) -> str:
    """An event's name as matched, without the article before it ("la European …")."""
    name = re.sub(r"\s+", " ", found).strip()
    return re.sub(r"^(?:Il|La|Lo|L['’]|Al|Alla|Nel|Nella|Del|Della)\s+", "", name)


def _event_mentions(article: Article, all_units: list[Unit]) -> list[list[tuple[str, Unit]]]:
    """Event names in the first units, grouped when they name the same event."""
    groups: list[list[tuple[str, Unit]]] = []
    for unit in all_units[:12]:
        for match in _EVENT.finditer(article.text, unit.start, unit.end):
            name = _event_name(match.group(1))
            if len(name.split()) < 2:
                continue
            group = next((g for g in groups if same_title(g[0][0], name)), None)
            if group is None:
                groups.append([(name, unit)])
            else:
                group.append((name, unit))
    return groups


def _event_in_title(
    article: Article, all_units: list[Unit], hint: int | None
) -> list[list[tuple[str, Unit]]]:
    """The headline's event ("… per la European Cluster Conference 2024"), quoted from the
    first sentence that dates it, when the text itself never names the event."""
    match = _EVENT.search(article.title)
    if match is None:
        return []
    name = _event_name(match.group(1))
    for unit in all_units[:12]:
        if any(
            m.dates for m in find_dates(article.text, article.published, unit.start, unit.end, hint)
        ):
            return [[(name, unit)]]
    return []


def _events(article: Article, all_units: list[Unit]) -> tuple[Event, ...]:
    text = article.text
    years = re.findall(r"\b(20\d\d)\b", article.title)
    hint = int(years[0]) if len(set(years)) == 1 else None  # "… Conference 2024"
    events: list[Event] = []
    groups = _event_mentions(article, all_units)[:3]
    if not groups:
        groups = _event_in_title(article, all_units, hint)
    for group in groups:
        name = min((re.sub(r"\s+\d{4}$", "", n) for n, _ in group), key=len)
        dated = [
            (unit, found)
            for _, unit in group
            if (found := find_dates(text, article.published, unit.start, unit.end, hint))
        ]
        unit, dates = dated[0] if dated else (group[0][1], [])
        units_text = [text[u.start : u.end] for _, u in group]
        edition = next((m.group(1) for t in units_text if (m := _EDITION.search(t))), None)
        place = next(
            (p.group(1) for p in _PLACE.finditer(text, unit.start, unit.end)
             if not _NOT_PLACE.match(p.group(1)) and p.group(1) not in name),
            None,
        )  # fmt: skip
        events.append(
            Event(
                name=name,
                edition=edition,
                place=place,
                dates=tuple(sorted({d for m in dates for d in m.dates})),
                dates_as_written=", ".join(m.written for m in dates) or None,
                start=unit.start,
                end=unit.end,
            )
        )
    return tuple(events)


def kicker(article: Article) -> str | None:
    """A short category line above the headline ("ATTIVITÀ INTERNAZIONALI"), if any."""
    first = re.match(r"\s*([^\n]{2,60})\n", article.text)
    if first is None:
        return None
    line = first.group(1).strip()
    if (
        line.endswith((".", ":", "!", "?"))
        or len(line.split()) > 5
        or fold(line) == fold(article.title)
    ):
        return None
    if line.isupper():
        return line
    following = article.text[first.end() : first.end() + 400].lstrip()
    return line if fold(following).startswith(fold(article.title)[:30]) else None


def extract_facts(article: Article) -> Facts:
    """The events, sessions and people (with roles) that `article` states."""
    all_units = units(article.text)
    reader = _Reader(article)
    for index, unit in enumerate(all_units):
        reader.read(unit, index)
    events = _events(article, all_units)
    main = events[0].name if events else None
    sessions = tuple(Session(s.id, s.title, s.kind, main, s.start, s.end) for s in reader.sessions)
    return Facts(
        article_id=article.id,
        events=events,
        sessions=sessions,
        people=_people(reader.linked()),
        section=kicker(article),
        version=EXTRACTOR_VERSION,
    )
