"""Near-duplicate news: shared word shingles, vetoed by figures that differ (docs/duplicates.md)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

# Bump when the method or its thresholds change: generations built before are rebuilt.
DUPLICATES_VERSION = "1"
SHINGLE = 5  # words per shingle
# Share of the shorter article's shingles the longer one must contain. On the dev pairs
# (demo/duplicates/dev) republications share 0.60-1.00; different news without a figure
# conflict 0.11 at most, and with conflicts (other calls, editions) up to 0.54.
CONTAINMENT = 0.45
# Two sentences are "the same sentence, edited" when their word sets overlap this much.
SAME_SENTENCE = 0.5
# Republications on the dev pairs come 3-12 days after the original, other editions and
# calls 357-372 days apart: two dated articles further apart than this are other news.
MAX_GAP_DAYS = 180
# A shingle found in more articles than this is boilerplate: it proposes no candidate pair.
COMMON = 50

_WORD = re.compile(r"\w+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n\s*\n")
# Words that state a figure or a date: a template sentence that changes one of them
# (another year, amount, edition, day or month) reports other news. "uno"/"una" are left
# out: they are mostly articles ("circa 70" rewritten "una settantina" is the same figure),
# and so are "primo", "prima" and "secondo" ("prima di", "secondo gli organizzatori").
_FIGURE_WORDS = frozenset(
    word
    for line in (
        "due tre quattro cinque sei sette otto nove dieci undici dodici tredici",
        "quattordici quindici sedici diciassette diciotto diciannove venti trenta",
        "quaranta cinquanta sessanta settanta ottanta novanta cento mille milione milioni",
        "miliardi seconda terzo terza quarto quarta quinto quinta",
        "sesto sesta settimo settima ottavo ottava nono nona decimo decima gennaio",
        "febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre",
        "dicembre lunedì martedì mercoledì giovedì venerdì sabato domenica",
    )
    for word in line.split()
)


# Number words written as digits, so that "dodici imprese" rewritten "12 imprese" is the
# same figure, not a swapped one.
_NUMBER_WORDS = (
    "due tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici",
    "quindici sedici diciassette diciotto diciannove venti trenta quaranta cinquanta",
    "sessanta settanta ottanta novanta cento mille",
)
_DIGITS = dict(
    zip(
        (word for line in _NUMBER_WORDS for word in line.split()),
        [*map(str, range(2, 21)), *map(str, range(30, 100, 10)), "100", "1000"],
        strict=True,
    )
)


@dataclass(frozen=True, slots=True)
class DuplicateInput:
    """What the method reads of one article."""

    id: str
    text: str
    published: date | None


class _Profile:
    """An article's shingle hashes, and its sentences' word sets once first asked for
    (only articles in a candidate pair need them)."""

    __slots__ = ("_sentences", "published", "shingles", "text")

    def __init__(self, text: str, published: date | None = None) -> None:
        words = _words(text)
        n = min(SHINGLE, len(words))
        # The n shifted word lists differ in length on purpose: zip stops at the shortest.
        shifted = (words[i:] for i in range(n))
        self.shingles = frozenset(map(hash, zip(*shifted, strict=False)))
        self.text, self.published = text, published
        self._sentences: tuple[frozenset[str], ...] | None = None

    @property
    def sentences(self) -> tuple[frozenset[str], ...]:
        """The word set of each sentence."""
        if self._sentences is None:
            found = (
                frozenset(_DIGITS.get(w, w) for w in _words(s)) for s in _SENTENCE.split(self.text)
            )
            self._sentences = tuple(s for s in found if s)
        return self._sentences


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _profile(text: str, published: date | None = None) -> _Profile:
    return _Profile(text, published)


def _is_figure(word: str) -> bool:
    return word in _FIGURE_WORDS or any(c.isdigit() for c in word)


def containment(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of the smaller set found in the other one (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def figure_conflicts(a: Sequence[frozenset[str]], b: Sequence[frozenset[str]]) -> int:
    """Sentences of `a` whose edited counterpart in `b` replaces a figure by another one.

    A counterpart is the sentence of `b` sharing the most words (Jaccard >= SAME_SENTENCE).
    Only a figure swapped for another counts: "circa 70" rewritten "una settantina", or a
    day added to a date, leaves a figure on one side only and is no conflict.
    """
    conflicts = 0
    for x in a:
        best, overlap = None, 0.0
        for y in b:
            score = len(x & y) / len(x | y)
            if score > overlap:
                best, overlap = y, score
        if best is None or overlap < SAME_SENTENCE:
            continue
        if any(map(_is_figure, x - best)) and any(map(_is_figure, best - x)):
            conflicts += 1
    return conflicts


def same_news(a: DuplicateInput, b: DuplicateInput) -> bool:
    """Whether two articles are the same news (one republishes the other)."""
    return _same(_profile(a.text, a.published), _profile(b.text, b.published))


def _same(a: _Profile, b: _Profile) -> bool:
    if a.published and b.published and abs((a.published - b.published).days) > MAX_GAP_DAYS:
        return False
    return (
        containment(a.shingles, b.shingles) >= CONTAINMENT
        and figure_conflicts(a.sentences, b.sentences) == 0
    )


def _candidates(profiles: Sequence[_Profile]) -> Iterable[tuple[int, int]]:
    """Pairs that share enough shingles to pass CONTAINMENT (an inverted index, no n^2)."""
    postings: dict[int, list[int]] = defaultdict(list)
    for i, profile in enumerate(profiles):
        for shingle in profile.shingles:
            postings[shingle].append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for members in postings.values():
        if 1 < len(members) <= COMMON:
            for x, i in enumerate(members):
                for j in members[x + 1 :]:
                    shared[(i, j)] += 1
    for (i, j), n in shared.items():
        smaller = min(len(profiles[i].shingles), len(profiles[j].shingles))
        if n >= CONTAINMENT * smaller:
            yield i, j


def find_duplicates(articles: Sequence[DuplicateInput]) -> dict[str, str]:
    """Group the same news republished; article id -> the id of its group's original.

    Only the other members are keys. The original is the earliest published member (an
    undated one counts as the latest); ties go to the smaller id, so the result does not
    depend on the order of `articles`.
    """
    ordered = sorted(articles, key=lambda a: a.id)
    profiles = [_profile(a.text, a.published) for a in ordered]
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in sorted(_candidates(profiles)):
        if _same(profiles[i], profiles[j]):
            parent[root(j)] = root(i)
    groups: dict[int, list[DuplicateInput]] = defaultdict(list)
    for i, article in enumerate(ordered):
        groups[root(i)].append(article)
    duplicates: dict[str, str] = {}
    for members in groups.values():
        original = min(members, key=lambda a: (a.published or date.max, a.id))
        duplicates.update({a.id: original.id for a in members if a is not original})
    return duplicates
