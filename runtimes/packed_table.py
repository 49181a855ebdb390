"""Bit-packed tables (int4, int2, any packed row of `runtimes.variants.VARIANTS`), shared by the exporter (pack)
and the numpy runtime (unpack).

Layout (docs/bundle-format.md, "int4" and "int2"): a byte holds `per_byte = 8 // bits` whole fields, so a row
of `dims` values holds `ceil(dims / per_byte)` bytes (int4: ceil(dims / 2), int2: ceil(dims / 4)); value `c`
of a row sits in byte `c // per_byte` at bit offset `bits * (c % per_byte)`, counted from the least
significant bit (int4: column 2k is the low nibble of byte k, 2k+1 its high nibble; int2: column 4k + j is
bits 2j..2j+1 of byte k). A field stores `q + field_offset` with |q| <= `code_limit` (the variant's record;
int4: offset 8, q in [-7, 7]; int2: offset 1, q in [-1, 1]), so the offset stands for zero and pads a row's
last byte. Hand-written because numpy has no sub-byte dtype and the layout must match the ONNX graph and the
JavaScript reader bit for bit.
"""

from __future__ import annotations

import numpy as np

from static_edge.runtimes.variants import VARIANTS

OFFSETS: dict[int, int] = {v.bits: v.field_offset for v in VARIANTS.values() if v.field_offset is not None}
"""bits -> the field value that stands for zero (`Variant.field_offset`), one entry per packed width."""
LIMITS: dict[int, int] = {v.bits: v.code_limit for v in VARIANTS.values() if v.code_limit is not None}
"""bits -> the largest |q| the exporter packs at that width (`Variant.code_limit`)."""
if len(OFFSETS) != sum(v.packed for v in VARIANTS.values()):
    raise AssertionError("VARIANTS: two packed variants share a width; packed_table keys its layouts by bits")


def packed_width(dims: int, bits: int) -> int:
    """Bytes per row of a `dims`-column table packed at `bits` bits per value: whole fields per byte, none split."""
    return -(-dims // (8 // bits))


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack [rows, dims] integers into [rows, packed_width(dims, bits)] uint8 (`bits` of a packed variant).

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
