"""Role cues: the words that say what a person did ("ha moderato", "sul palco", "giuria")."""

from __future__ import annotations

import re
from dataclasses import dataclass

# (role, pattern, may govern the name before it). Names after a cue, up to the next cue or
# the end of the clause, take its role; a cue with no name after it in its clause ("X ha
# moderato") governs the nearest name before it when the third field allows.
_CUES: tuple[tuple[str, str, bool], ...] = (
    (
        "moderator",
        r"moder(?:at[oaie]|atric[ei]|ator[ei]|are|a|ando|azione)\b|guidat[oaie]\s+da|(?:ha|hanno)\s+guidato|a\s+guidare|chaired\s+by|moderated\s+by",
        True,
    ),
    ("jury", r"giuria|giurat[ie]|jury", False),
    (
        "award_presenter",
        r"consegnat[oaie]\s+da|(?:ha|hanno)\s+consegnato|a\s+consegnar(?:e|lo|li)|(?:ha|hanno)\s+premiato|premiat[oaie]\s+da|presented\s+by",
        True,
    ),
    (
        "award_winner",
        r"(?:ha|hanno)\s+vinto|vincitor[ei]|vincitric[ei]|(?:è|sono)\s+andat[oaie]\s+a|assegnat[oaie]\s+a|menzion[ei]\s+special[ei]|aggiudicat[oaie]|a\s+ritirarl[oia]|(?:ha|hanno)\s+ritirato|premiat[oaie](?!\s+da)|won\s+by|winner",
        True,
    ),
    (
        "opening",
        r"(?:ha|hanno)\s+aperto|apert[oaie]\s+(?:i\s+lavori|la\s+giornata|da)|ad?\s+aprire|aprire\s+i\s+lavori|apertura\s+dei\s+lavori|saluti\s+istituzionali|saluto\s+istituzionale|saluti\s+di\s+benvenuto|benvenuto|opened\s+by",
        True,
    ),
    (
        "closing",
        r"(?:ha|hanno)\s+chiuso\s+(?:i\s+lavori|la\s+giornata|l['’]evento|il\s+forum|la\s+conferenza|la\s+manifestazione|la\s+due\s+giorni|il\s+summit|l['’]incontro)|a\s+chiudere\s+(?:i\s+lavori|la\s+giornata|l['’]evento|il\s+forum|la\s+conferenza|la\s+manifestazione|la\s+due\s+giorni|il\s+summit)|chiusura\s+dei\s+lavori|chius[oaie]\s+da|conclusioni|conclus[oa]\s+(?:i\s+lavori|la\s+giornata)|closed\s+by",
        True,
    ),
    ("keynote", r"keynote|lectio\s+magistralis|relazione\s+introduttiva", True),
    (
        "coordinator",
        r"coordinat[oaie]\s+da|(?:ha|hanno)\s+coordinato|a\s+cura\s+di|coordinator[ei]|coordinatric[ei]",
        True,
    ),
    (
        "speaker",
        r"intervenut[oaie]|(?:ha|hanno)\s+parlato|relator[ei]|relatric[ei]|sul\s+palco|al\s+tavolo|(?:ha|hanno)\s+preso\s+parte|(?:vi|ne)\s+hanno\s+preso\s+parte|(?:ha|hanno)\s+partecipato|ne\s+hanno\s+discusso|hanno\s+discusso|si\s+sono\s+confrontat[ie]|interventi\s+di|speakers?|panelist[ie]?",
        False,
    ),
)
_CUE_RE = re.compile(
    "|".join(f"(?P<c{i}>{pattern})" for i, (_, pattern, _) in enumerate(_CUES)), re.I
)
# Where a clause ends: a cue's reach stops there.
CLAUSE_END = re.compile(r";|\||\s[–—-]\s|\bmentre\b|\bwhile\b")


@dataclass(frozen=True, slots=True)
class Cue:
    """A role word in the text."""

    start: int
    end: int
    role: str
    backward: bool


def find_cues(text: str, start: int, end: int) -> list[Cue]:
    """Role cues in `text[start:end]`, in order."""
    cues = []
    for match in _CUE_RE.finditer(text, start, end):
        index = int(next(name for name, value in match.groupdict().items() if value)[1:])
        role, _, backward = _CUES[index]
        cues.append(Cue(match.start(), match.end(), role, backward))
    return cues
