"""The precisions a vectors file can store, one `Precision` record each: how float32 vectors are quantized, and
how a row is laid out in .npy, Arrow/Parquet and JSONL.

- float32, float16: the values as they are (float16 rounded).
- int8: `round(v / max|v| * 127)` with a per-vector `scale = max|v| / 127`, so `q * scale` restores v.
- binary: one bit per dim (v > 0), packed 8 per byte as `numpy.packbits` (Sentence Transformers' "ubinary");
  base64 in JSONL.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from static_edge.runtimes.binary import to_ubinary

Quantized = tuple[np.ndarray, "np.ndarray | None"]
"""Vectors in a precision, and their per-vector scales (None unless the precision is scaled)."""


def _float32(vectors: np.ndarray) -> Quantized:
    return np.asarray(vectors, dtype=np.float32), None


def _float16(vectors: np.ndarray) -> Quantized:
    return vectors.astype(np.float16), None


def _int8(vectors: np.ndarray) -> Quantized:
    peak = np.abs(vectors).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8), scale


def _binary(vectors: np.ndarray) -> Quantized:
    return to_ubinary(vectors), None


@dataclass(frozen=True)
class Precision:
    """One output precision: its quantizer and its row layout."""

    name: str
    quantize: Callable[[np.ndarray], Quantized]
    """float32 vectors [rows, dims] -> stored values and per-vector scales."""
    dtype: type[np.generic]
    """The stored element type."""
    arrow_value: str | None
    """The pyarrow type of one value (a fixed-size list of them per row); None: bits packed into fixed-size bytes."""
    scaled: bool = False
    """Each vector carries a float32 scale (a `scale` column or field), so it cannot go to .npy alone."""

    @property
    def packed(self) -> bool:
        """Whether a row is bits packed into bytes rather than a list of values."""
        return self.arrow_value is None

    def width(self, dims: int) -> int:
        """Stored elements per row: `dims`, or the bytes of `dims` packed bits."""
        return -(-dims // 8) if self.packed else dims

    def row_bytes(self, dims: int) -> int:
        """Bytes of one stored row (.npy and raw parts)."""
        return self.width(dims) * np.dtype(self.dtype).itemsize

    def arrow_type(self, dims: int) -> Any:
        """The Arrow type of the `vector` column."""
        import pyarrow as pa

        if self.packed:
            return pa.binary(self.width(dims))
        return pa.list_(getattr(pa, self.arrow_value)(), dims)

    def arrow_vectors(self, values: np.ndarray, dims: int) -> Any:
        """Quantized rows as an Arrow array of `arrow_type(dims)`."""
        import pyarrow as pa

        if self.packed:
            return pa.array([row.tobytes() for row in values], type=self.arrow_type(dims))
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), dims)

    def json_vector(self, row: np.ndarray) -> Any:
        """One quantized row as JSONL writes it: a list of numbers, or base64 of the packed bytes."""
        return base64.b64encode(row.tobytes()).decode("ascii") if self.packed else row.tolist()


PRECISIONS: dict[str, Precision] = {
    p.name: p
    for p in (
        Precision("float32", _float32, np.float32, "float32"),
        Precision("float16", _float16, np.float16, "float16"),
        Precision("int8", _int8, np.int8, "int8", scaled=True),
        Precision("binary", _binary, np.uint8, None),
    )
}
"""Every output precision by name, in the order `--precision` lists them."""
