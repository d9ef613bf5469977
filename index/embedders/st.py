"""Any sentence-transformers model, by local path or (cached) hub name, run by torch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.embedders.base import normalise
from index.types import Vectors


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by local path or (cached) hub name.

    Needs the optional extra: `pip install torch==2.13.0 && pip install '.[st]'`.
    """

    def __init__(self, model: str, batch_size: int = 32) -> None:
        if not model:
            raise ValueError("a sentence-transformers model path or name is required")
        self.model_name = model
        self.name = f"st:{model}"
        self.batch_size = batch_size
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise RuntimeError(
                        "the st: embedder needs sentence-transformers: "
                        "pip install torch==2.13.0 && pip install '.[st]'"
                    ) from exc
                self._model = SentenceTransformer(self.model_name, device="cpu")
                model = self._model
                dimension = getattr(model, "get_embedding_dimension", None)
                dimension = dimension or model.get_sentence_embedding_dimension
                self._dim = int(dimension())
            return self._model

    @property
    def dim(self) -> int:
        """The model's output dimension (loads the model)."""
        self._load()
        assert self._dim is not None
        return self._dim

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Embed passages."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(
            model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        )

    def query(self, text: str) -> Vectors:
        """Embed a question."""
        return normalise(
            self._load().encode([text], normalize_embeddings=True, show_progress_bar=False)
        )
