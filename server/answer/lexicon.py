"""What a question asks about, and whether a sentence states it: the answerer's domain lexicon.

A question such as "Quanti dipendenti ha Adriatica H2?" shares almost every term with a
passage about Adriatica H2 that never mentions its staff. Term overlap alone answers it
with the wrong sentence; what is missing is the one attribute the question asks for.

Each `Concept` is one such attribute that cluster news is asked about: a price, funding,
an amount of money, a maximum, staff, attendance, applications, a delegation, a venue, a moderator,
a deadline, a role. `asked` recognises it in a question, in Italian or English; `stated`
recognises a sentence that states it, with the words an article uses ("investimento"
states a price, "fino al" a deadline, "12,5 milioni di euro" an amount).

The extractive answerer abstains when the best sentence and its context do not state a
concept the question asks about, or do not name the thing a "quanti/quante" question
counts; a counted noun stated in other words ("fondi": "finanziato con") counts as named.

"""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass

from index.lexical import tokenize

# A sum of money: "40.000 euro", "12,5 milioni di euro", "€ 300".
_AMOUNT = (
    r"\d[\d.,]*\s*(?:mila|milioni|miliardi|million|billion)?\s*(?:di\s+)?"
    r"(?:euro|dollari|sterline|franchi|lire|yen|dollars|pounds)\b|[€$£]\s*\d|\d\s*[€$£]"
)


@dataclass(frozen=True, slots=True)
class Concept:
    """An attribute a question can ask about, and how an article states it."""

    name: str
    asked: re.Pattern[str]
    stated: re.Pattern[str]


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b", re.I)


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "price",
        re.compile(
            r"\b(?:quanto (?:cost\w*|è costat\w*|si paga)|cost[oi] (?:del|della|dell|di|per)|"
            r"prezz[oi]|bigliett[oi]|tariff[ae]|quot[ae] di (?:iscrizione|partecipazione)|"
            r"a pagamento|price[sd]?|costs?|ticket[s]?|fee[s]?|admission)\b",
            re.I,
        ),
        re.compile(
            _words(
                r"cost[aoi]|costava|costerà|costat[oa]|prezz[oi]|bigliett[oi]|tariff[ae]|quot[ae]|"
                r"ingresso (?:libero|gratuito)|a pagamento|gratuit[oa]|gratis|investiment[oi]|"
                r"spes[ae]|price|cost|free"
            ).pattern
            + "|"
            + _AMOUNT,
            re.I,
        ),
    ),
    Concept(
        "funding",
        _words(
            r"fond[oi]|finanziament[oi]|finanziat[oaie]|dotazione|stanziament[oi]|stanziat[oaie]|"
            r"budget|grant[s]?|funding|funded|fund[s]?"
        ),
        re.compile(
            _words(
                r"fond[oi]|finanzi\w*|cofinanzi\w*|dotazione|stanzia\w*|contribut[oi]|budget|"
                r"risorse|grant[s]?|funding|funded|fund[s]?"
            ).pattern
            + "|"
            + _AMOUNT,
            re.I,
        ),
    ),
    Concept(
        "amount",
        re.compile(
            r"\b(?:quanto (?:cost\w*|è costat\w*)|quanti (?:fondi|soldi)|che cifra|"
            r"quale (?:cifra|importo)|how much (?:money|funding|did|does|will)|"
            r"a quanto ammont\w*(?=.*\b(?:finanzi\w*|contribut\w*|fond[oi]|budget|investiment\w*|"
            r"cost\w*|spes\w*|dotazion\w*|round|premio)\b))",
            re.I,
        ),
        re.compile(_AMOUNT, re.I),
    ),
    Concept(
        "maximum",
        _words(r"massim[oaie]|al massimo|fino a quanto|tetto|maximum|at most|up to|cap"),
        _words(
            r"massim[oaie]|al massimo|fino a|fino al|tetto|compres[oaie] tra|non oltre|"
            r"non superiore|maximum|at most|up to"
        ),
    ),
    Concept(
        "applications",
        _words(
            r"candidatur[ae]|domande (?:presentate|pervenute|arrivate|ricevute)|"
            r"applications|applicants"
        ),
        _words(r"candidatur[ae]|domand[ae]|propost[ae]|richiest[ae]|applications?|applicants"),
    ),
    Concept(
        "staff",
        _words(r"dipendent[ie]|addett[io]|lavorator[ie]|organico|employees|staff|workforce"),
        _words(
            r"dipendent[ie]|addett[io]|lavorator[ie]|organico|personale|occupat[io]|"
            r"employees|staff|workforce"
        ),
    ),
    Concept(
        "attendance",
        re.compile(
            r"\b(?:visitator[ie]|spettator[ie]|attendees|attended|attendance|participants|"
            r"visitors|audience|people|quant[ie] (?:persone )?(?:hanno|avevano) "
            r"(?:seguito|partecipato|assistito|preso parte))\b",
            re.I,
        ),
        _words(
            r"partecipant[ie]|presenti|visitator[ie]|spettator[ie]|pubblico|iscritt[ie]|"
            r"persone|delegat[ie]|hanno (?:preso parte|partecipato|seguito|visitato|assistito)|"
            r"attendees|attended|participants|visitors|audience|people"
        ),
    ),
    Concept(
        "moderator",
        _words(r"moderat[oaie]|moderator[ei]?|moderatric[ei]|moderated|moderators?|chair(?:ed)?"),
        _words(r"moderat\w*|moderator\w*|moderatric\w*|chair(?:ed|ing)?"),
    ),
    Concept(
        "deadline",
        _words(r"scadenz[ae]|scad(?:e|ono|eva|evano|rà|ranno)|entro quando|deadline[s]?|due date"),
        _words(r"entro|fino al|fino a|scadenz[ae]|scad\w*|termine|deadline[s]?|chiud\w*|chiusura"),
    ),
    Concept(
        "delegation",
        _words(r"delegat[io]|delegazion[ei]|delegates|delegation[s]?"),
        _words(r"delegat\w*|delegazion\w*|delegation\w*"),
    ),
    Concept(
        "venue",
        re.compile(
            r"\b(?:venue|in quale (?:sede|sala|struttura|edificio|location)|presso quale|"
            r"which (?:building|hall|venue))\b",
            re.I,
        ),
        _words(
            r"presso|sede|sala|auditorium|aula|palazzo|teatro|centro congressi|"
            r"fiera|quartiere fieristico|tecnopolo|campus|hotel|villa"
        ),
    ),
    Concept(
        "leader",
        _words(r"guid(?:a|ava|ato|ata|erà|eranno)|leader[s]?"),
        _words(
            r"guid\w*|leader\w*|a capo|capofila|president\w*|direttor\w*|direttric\w*|"
            r"coordin\w*|responsabile|led|head\w*"
        ),
    ),
    Concept(
        "president",
        _words(r"presidente|presidentessa|president|chairman|chairwoman"),
        _words(r"president\w*|chairman|chairwoman"),
    ),
    Concept(
        "director",
        _words(r"direttor[ei]|direttric[ei]|director[s]?|ceo|amministratore delegato"),
        _words(r"direttor\w*|direttric\w*|director\w*|ceo|amministratore delegato"),
    ),
    Concept(
        "founder",
        _words(r"fondator[ei]|fondatric[ei]|founder[s]?"),
        _words(r"fondator\w*|fondatric\w*|fondat[oaie]|founder\w*|founded"),
    ),
    Concept(
        "coordinator",
        _words(
            r"coordin(?:a|ano|ava|ato|ata|atore|atrice|atori)|capofila|"
            r"coordinates|coordinated|coordinator|leads|lead partner"
        ),
        _words(r"coordin\w*|capofila|lead partner"),
    ),
)


# The noun a count question counts, by the question's language.
_COUNTED = (
    ("it", re.compile(r"\bquant[ie]\s+([a-zà-ÿ]+)", re.I)),
    ("en", re.compile(r"\bhow many\s+([a-z]+)", re.I)),
)

# Characters of a stem that are enough to match: "iscriv" meets "iscrizion" (both "iscri").
PREFIX = 5


def has_term(term: str, tokens: Set[str]) -> bool:
    """True when `term` or its first `PREFIX` characters are among the matchable `tokens`."""
    return term in tokens or term[:PREFIX] in tokens


# Counted nouns that say how something is measured, not what: the answer gives the measure
# ("due volte", "12 km", "nel XV secolo") without the noun.
_MEASURES = frozenset(
    tokenize(
        "volte volta persone tipi tipo anni anno giorni mesi settimane ore minuti secondi "
        "secoli decenni centinaia migliaia milioni miliardi chilometri chili chilogrammi "
        "tonnellate metri ettari miglia gradi altri altre modi parti specie"
    )
)


def _concepts_in(text: str, concepts: tuple[Concept, ...] = CONCEPTS) -> tuple[Concept, ...]:
    return tuple(c for c in concepts if c.asked.search(text))


@dataclass(frozen=True, slots=True)
class Asked:
    """What a question asks about: concepts, and the thing it counts ("quanti dipendenti").

    A "quanti/quante" question's counted noun must be named in the chosen sentence or its
    context (a noun of measure such as "volte" is not checked). What the whole check costs
    and catches is measured in docs/evaluation.md (`python -m scripts.tune_answers`).
    """

    concepts: tuple[Concept, ...] = ()
    focus: str | None = None  # stem of the counted noun ("dipendent")
    focus_concepts: tuple[Concept, ...] = ()  # concepts the counted noun names

    @classmethod
    def parse(cls, question: str, concepts: tuple[Concept, ...] = CONCEPTS) -> Asked:
        """Read the concepts (of `concepts`) and the counted noun from a question."""
        focus: str | None = None
        focus_concepts: tuple[Concept, ...] = ()
        for lang, pattern in _COUNTED:
            match = pattern.search(question)
            if match:
                stems = tokenize(match.group(1))
                focus_concepts = _concepts_in(match.group(1), concepts)
                if stems and lang == "it" and stems[0] not in _MEASURES:
                    focus = stems[0]
                elif focus_concepts:  # English: only a concept can match Italian text
                    focus = stems[0] if stems else None
                break
        return cls(_concepts_in(question, concepts), focus, focus_concepts)

    @property
    def near(self) -> tuple[re.Pattern[str], ...]:
        """Patterns whose words, next to an answer span, make it a strong one."""
        return tuple(c.stated for c in self.concepts)

    def focus_credit(self, sentence: str) -> frozenset[str]:
        """The counted noun's stem, when `sentence` names it in other words."""
        if self.focus and any(c.stated.search(sentence) for c in self.focus_concepts):
            return frozenset((self.focus,))
        return frozenset()

    def stated_in(self, text: str, tokens: Set[str]) -> bool:
        """True when `text` (with its matchable `tokens`) states everything asked about."""
        if self.focus and not (
            has_term(self.focus, tokens) or any(c.stated.search(text) for c in self.focus_concepts)
        ):
            return False
        return all(c.stated.search(text) for c in self.concepts)
