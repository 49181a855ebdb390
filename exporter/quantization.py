"""Table precisions: float16, and int8 or packed int4 / int2 with one scale per row."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from static_edge.runtimes.packed_table import LIMITS, pack_bits, pack_int4

Quantizer = Callable[[np.ndarray], tuple[np.ndarray, "np.ndarray | None"]]
"""float32 table [vocab, dims] -> (the variant's table, its [vocab] float32 row scales or None for a float table)."""


def quantize_rows_int8(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantization with one float32 scale per row.

    Each row is divided by max|row| / 127 and rounded, so every token keeps its own range (a
    per-tensor scale wastes most of the 8 bits on rows with small values). An all-zero row gets
    scale 1 and stays zero. Hand-written because onnxruntime's quantizer has no per-row mode for a
    Gather table that is dequantized after the Gather.

    :return: the int8 table and the [vocab] float32 scales; `q * scales[:, None]` approximates `table`.
    """
    table = np.asarray(table, dtype=np.float32)
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(table / scales[:, None]), -127, 127).astype(np.int8)
    return quantized, scales


def as_float32(table: np.ndarray) -> tuple[np.ndarray, None]:
    """The reference table itself (float32, no scales)."""
    return np.asarray(table, dtype=np.float32), None


def quantize_float16(table: np.ndarray) -> tuple[np.ndarray, None]:
    """The table in float16 (`to_float16`), no scales."""
    return to_float16(table), None


def to_float16(table: np.ndarray) -> np.ndarray:
    """The table in float16, each value rounded to nearest-even (export refuses values beyond float16's 65504
    first: `table_scan.export_range_problem`)."""
    return np.asarray(table, dtype=np.float32).astype(np.float16)


def quantize_rows_int4(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric 4-bit quantization with one float32 scale per row, packed two values per byte.

    q = clip(rint(x / s), -7, 7) with s = max|row| / 7 (an all-zero row gets s = 1), stored as
    nibbles q + 8 (see `static_edge.runtimes.packed_table` and docs/bundle-format.md, "int4").

    :return: the packed uint8 table [vocab, ceil(dims / 2)] and the [vocab] float32 scales.
    """
    table, limit = np.asarray(table, dtype=np.float32), LIMITS[4]
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / limit, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(table / scales[:, None]), -limit, limit).astype(np.int8)
    return pack_int4(quantized), scales


INT2_THRESHOLD = 0.5
"""int2 zeroes values below this fraction of the row's mean |x|; chosen on STS-B dev (0.3, 0.5, 0.7 tried)."""


def quantize_rows_int2(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ternary 2-bit quantization with one float32 scale per row, packed four values per byte.

    q = sign(x) where |x| > 0.5 * mean|row|, else 0; the scale is the mean |x| of the values kept
    (the least-squares scale for that choice of signs); an all-zero row gets scale 1 and stays zero.
    Not a faithful copy of the table (cosine to fp32 is far below int4's): an option whose retrieval
    and STS scores are measured in benchmarks/results/quality_grid.md, never picked by default.

    :return: the packed uint8 table [vocab, ceil(dims / 4)] and the [vocab] float32 scales.
    """
    table = np.asarray(table, dtype=np.float32)
    magnitude = np.abs(table)
    kept = magnitude > INT2_THRESHOLD * magnitude.mean(axis=1, keepdims=True)
    counts = kept.sum(axis=1)
    scales = np.where(counts > 0, (magnitude * kept).sum(axis=1) / np.maximum(counts, 1), 1.0).astype(np.float32)
    quantized = (np.sign(table) * kept).astype(np.int8)
    return pack_bits(quantized, 2), scales


QUANTIZERS: dict[str, Quantizer] = {
    "fp32": as_float32,
    "fp16": quantize_float16,
    "int8": quantize_rows_int8,
    "int4": quantize_rows_int4,
    "int2": quantize_rows_int2,
}
"""How the exporter writes each variant of `static_edge.runtimes.variants.VARIANTS` (one entry per record)."""
