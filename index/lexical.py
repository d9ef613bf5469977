"""BM25 over chunks with Italian stop words, elision splitting and Snowball stemming."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.stopwords import STOPWORDS_ITALIAN

# bm25s sets its own logger to DEBUG on import; its progress lines are noise here.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# Word characters, keeping digits; apostrophes split elisions ("dell'energia" -> dell, energia).
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ELIDED = {
    "l",
    "d",
    "dell",
    "dall",
    "nell",
    "sull",
    "all",
    "un",
    "quest",
    "quell",
    "c",
    "m",
    "t",
    "s",
    "v",
    "po",
    "com",
    "dov",
    "cos",
    "anch",
    "tutt",
    "sant",
    "buon",
    "bell",
}


# Every combining mark of the Basic Multilingual Plane, as one regex class.
_COMBINING = re.compile(
    "["
    + "".join(re.escape(chr(c)) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c)))
    + "]"
)


def _fold(text: str) -> str:
    """Drop accents, so "qualita" and "qualità", "perche" and "perché" meet."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFD", text))


# Bump when tokenize() changes: an index built by another version must be rebuilt.
TOKENIZER_VERSION = "it-snowball-fold-2"
STOPWORDS = frozenset(_fold(w) for w in STOPWORDS_ITALIAN) | _ELIDED


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("italian")


def tokenize(text: str) -> list[str]:
    """Lower-case, fold accents, split elisions, drop Italian stop words, stem."""
    words = [w for w in _TOKEN.findall(_fold(text.lower())) if w not in STOPWORDS]
    return list(_stemmer().stemWords(words))


class LexicalIndex:
    """A bm25s index over a fixed list of documents."""

    def __init__(self, retriever: bm25s.BM25, size: int) -> None:
        self._bm25 = retriever
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index `texts`; document i is row i."""
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        tokens = [tokenize(t) or [""] for t in texts]
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        """Write the index files into `folder`."""
        self._bm25.save(str(folder))

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        """Read an index written by `save`."""
        return cls(bm25s.BM25.load(str(folder)), size)

    def idf(self, tokens: Sequence[str]) -> list[float]:
        """Inverse document frequency of each token (unknown tokens get the maximum)."""
        indptr = self._bm25.scores["indptr"]
        weights = []
        for token in tokens:
            row = self._bm25.vocab_dict.get(token)
            df = int(indptr[row + 1] - indptr[row]) if row is not None else 0
            weights.append(float(np.log(1 + (self.size - df + 0.5) / (df + 0.5))))
        return weights

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every document for `query` (zeros when no term is known)."""
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
