"""Bit-packed tables (int4, int2), shared by the exporter (pack) and the numpy runtime (unpack).

Layout (docs/bundle-format.md, "int4" and "int2"): a byte holds `per_byte = 8 // bits` whole fields, so a row
of `dims` values holds `ceil(dims / per_byte)` bytes (int4: ceil(dims / 2), int2: ceil(dims / 4)); value `c`
of a row sits in byte `c // per_byte` at bit offset `bits * (c % per_byte)`, counted from the least
significant bit (int4: column 2k is the low nibble of byte k, 2k+1 its high nibble; int2: column 4k + j is
bits 2j..2j+1 of byte k). A field stores `q + offset` (int4: q in [-7, 7], offset 8; int2: q in [-1, 1],
offset 1), so the offset stands for zero and pads a row's last byte.
Hand-written because numpy has no sub-byte dtype and the layout must match the ONNX graph and the
JavaScript reader bit for bit.
"""

from __future__ import annotations

import numpy as np

INT4_OFFSET = 8
INT4_MAX = 7
INT2_OFFSET = 1
INT2_MAX = 1
OFFSETS = {4: INT4_OFFSET, 2: INT2_OFFSET}
"""bits -> the field value that stands for zero: one entry per packed width of `runtimes.variants.VARIANTS`."""
LIMITS = {4: INT4_MAX, 2: INT2_MAX}
"""bits -> the largest |q| the exporter packs at that width."""


def packed_width(dims: int, bits: int) -> int:
    """Bytes per row of a `dims`-column table packed at `bits` bits per value: whole fields per byte, none split."""
    return -(-dims // (8 // bits))


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack [rows, dims] integers into [rows, packed_width(dims, bits)] uint8 (bits 4 or 2).

    :raises ValueError: for a value outside the range of `bits`, an unknown `bits` or an array that is not 2-D.
    """
    if bits not in OFFSETS:
        raise ValueError(f"bits must be one of {sorted(OFFSETS)}, got {bits}")
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D table, got shape {values.shape}")
    offset, limit = OFFSETS[bits], LIMITS[bits]
    if values.size and (values.min() < -limit or values.max() > limit):
        raise ValueError(f"int{bits} values must lie in [-{limit}, {limit}]")
    per_byte = 8 // bits
    width = packed_width(values.shape[1], bits)
    fields = np.full((values.shape[0], width * per_byte), offset, dtype=np.uint8)
    fields[:, : values.shape[1]] = (values.astype(np.int16) + offset).astype(np.uint8)
    packed = np.zeros((values.shape[0], width), dtype=np.uint8)
    for j in range(per_byte):
        packed |= fields[:, j::per_byte] << (bits * j)
    return packed


def unpack_bits(packed: np.ndarray, dims: int, bits: int) -> np.ndarray:
    """The int8 values [rows, dims] of a packed table (the inverse of `pack_bits`)."""
    packed = np.asarray(packed, dtype=np.uint8)
    per_byte, mask = 8 // bits, (1 << bits) - 1
    out = np.empty((packed.shape[0], packed.shape[1] * per_byte), dtype=np.int8)
    for j in range(per_byte):
        out[:, j::per_byte] = ((packed >> (bits * j)) & mask).astype(np.int8) - OFFSETS[bits]
    return out[:, :dims]


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Pack [rows, dims] integers in [-7, 7] into [rows, ceil(dims / 2)] uint8."""
    return pack_bits(values, 4)


def unpack_int4(packed: np.ndarray, dims: int) -> np.ndarray:
    """The int8 values [rows, dims] of a packed int4 table."""
    return unpack_bits(packed, dims, 4)
