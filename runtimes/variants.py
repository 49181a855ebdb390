"""The table variants a bundle may hold: one record per variant, the single place a variant is defined.

Every list of variants derives from `VARIANTS` (file names, manifest dtypes, ONNX table types, packed layouts,
check tolerances, transformers.js dtypes, CLI flags). The browser's copy `runtimes/web/variants.js` and the
variants table of docs/bundle-format.md are generated from it (`static_edge.runtimes.generate_variants`); the
tests fail when the committed copies differ. Adding a variant is one row here and its quantizer
(`static_edge.exporter.quantization.QUANTIZERS`), then `python -m static_edge.runtimes.generate_variants`.

spec: docs/bundle-format.md#files
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One table variant: how it is stored, named and checked."""

    name: str
    """The variant's name: `load(..., variant=name)`, the manifest's `default_variant`, the export flag `--name`."""
    file: str
    """The ONNX file inside the bundle, named as transformers.js looks for it."""
    dtype: str
    """The dtype recorded in the manifest's `files` entry."""
    onnx_type: int
    """The ONNX element type of the table initializer (onnx.TensorProto: FLOAT 1, UINT8 2, INT8 3, FLOAT16 10)."""
    bits: int
    """Bits per table value; below 8 the values are packed into uint8 bytes (`runtimes.packed_table`)."""
    scaled: bool
    """The table holds integer codes with one float32 scale per row (`embedding_row_scales`)."""
    transformers_js_dtype: str | None
    """The transformers.js `dtype` that loads the file; None where transformers.js has none (never a default)."""
    cpu_rank: int
    """Preference of the Python runtimes when the caller names no variant: the lowest rank the bundle holds loads.
    fp32 encodes fastest on onnxruntime's CPU provider (benchmarks/results/speed.md: 38.3k sentences/s against
    int8's 34.0k at batch 1024), int8 close behind with a 4x smaller table; fp16 pays a cast per row; int4 and
    int2 unpack their fields and run 1.3-4x slower."""
    summary: str
    """What the table is, for `static-edge export --help` ("also write the <summary>")."""
    mean_cosine: float | None = None
    """`static-edge check`: least mean cosine of its vectors to fp32's over the parity texts (None: not checked)."""
    min_cosine: float | None = None
    """`static-edge check`: least cosine of any one text's vector to fp32's (None: not checked)."""
    row_error: float | None = None
    """`static-edge check`: largest relative L2 error of one decoded row against its fp32 row (None: not checked)."""
    field_offset: int | None = None
    """A packed table's field value that stands for zero: a field stores `code + field_offset` (None: not packed)."""
    code_limit: int | None = None
    """The largest |code| the exporter packs (None: not packed); `field_offset +- code_limit` fits in `bits`."""

    @property
    def packed(self) -> bool:
        """The table packs several values into each uint8 byte."""
        return self.bits < 8

    @property
    def code_peak(self) -> int | None:
        """The largest |code| a scaled table's bytes can hold, even where the exporter never writes it (int8
        -128, an int4 nibble 0 is -8, an int2 field 3 is 2): a decoded value is at most |row scale| times this.
        None for a float table."""
        return 1 << (self.bits - 1) if self.scaled else None


# In the bundle contract's order: the float32 reference first, then ever smaller tables. Tolerances:
# docs/bundle-format.md#parity-tolerances. int4 (7 levels a side): the 256-dim quickstart model measured mean
# 0.9905, min 0.982 on the parity set (STS-B dev sentences: mean 0.990, min 0.973), so its bounds leave room for
# other tables, not for bugs. int2 (ternary) is not a close copy: the quickstart model measured mean 0.863,
# min 0.779 (STS-B dev: mean 0.860, min 0.773), an 8-dim test table min 0.697; its bounds catch a broken decode
# (cosine near 0), not quality, which the quality grid measures instead. int8's row error of 0.1 is a cosine of
# 0.995 for a one-token text (its min cosine); per-row absmax scaling gives about 0.01 on ordinary rows.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("fp32", "onnx/model.onnx", "float32", 1, 32, False, "fp32", 0, "float32 table"),
        Variant("fp16", "onnx/model_fp16.onnx", "float16", 10, 16, False, "fp16", 2, "float16 table", None, 0.9999),
        Variant(
            "int8", "onnx/model_quantized.onnx", "int8", 3, 8, True, "q8", 1, "int8 table (one scale per row)",
            0.999, 0.995, 0.1,
        ),
        Variant(
            "int4", "onnx/model_q4.onnx", "int4", 2, 4, True, "q4", 3, "packed 4-bit table (one scale per row)",
            0.98, 0.95, None, 8, 7,
        ),
        Variant(
            "int2", "onnx/model_q2.onnx", "int2", 2, 2, True, None, 4, "ternary 2-bit table (never the default)",
            0.75, 0.5, None, 1, 1,
        ),
    )
}  # fmt: skip

REFERENCE: Variant = next(iter(VARIANTS.values()))
"""The float32 table every bundle holds: what the others are built from and checked against."""

VARIANT_FILES: dict[str, str] = {v.name: v.file for v in VARIANTS.values()}
"""Variant name -> ONNX file, in the names transformers.js looks for."""
CPU_VARIANT_ORDER: tuple[str, ...] = tuple(sorted(VARIANTS, key=lambda name: VARIANTS[name].cpu_rank))
"""What the Python runtimes load when the caller names no variant: the first the bundle holds (`Variant.cpu_rank`).
The manifest's `default_variant` (the smallest written) stays what browser runtimes load, where download size
rules."""


def _validate() -> None:
    ranks = sorted(v.cpu_rank for v in VARIANTS.values())
    files = {v.file for v in VARIANTS.values()}
    if ranks != list(range(len(VARIANTS))) or len(files) != len(VARIANTS) or REFERENCE.scaled or REFERENCE.bits != 32:
        raise AssertionError("VARIANTS: cpu_rank must number the rows 0..n-1, files be distinct, fp32 come first")
    for v in VARIANTS.values():
        offset, limit = v.field_offset, v.code_limit
        if offset is None or limit is None:
            fits = not v.packed and offset is None and limit is None
        else:  # a scaled, packed table whose codes -limit..limit all fit a field
            fits = v.packed and v.scaled and 0 < limit <= offset and offset + limit < 1 << v.bits
        if not fits:
            raise AssertionError(f"VARIANTS: {v.name} needs field_offset and code_limit exactly when packed, in range")


_validate()
