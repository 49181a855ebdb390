"""Table precisions: float16 and int8 with one scale per row."""

from __future__ import annotations

import numpy as np


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


def to_float16(table: np.ndarray) -> np.ndarray:
    """The table in float16, values beyond float16's range clipped rather than turned into inf."""
    limit = np.finfo(np.float16).max
    return np.clip(np.asarray(table, dtype=np.float32), -limit, limit).astype(np.float16)
