"""Cross-check a bundle's manifest against its graph and tokenizer before anything is encoded.

The file hashes prove the files are the ones the manifest names; they do not prove the manifest tells
the truth about them. Every runtime reads `dims`, `normalize`, `pad_token_id` and the unknown-token rule
from the manifest, so a manifest that disagrees with its graph would make the numpy runtime return other
vectors than onnxruntime, or fail deep inside either. This module reads those facts from the ONNX file
itself and refuses any mismatch, naming the key.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from static_edge.runtimes.bundle import (
    MANIFEST_FILE,
    SCALES_INITIALIZER,
    TABLE_INITIALIZER,
    UNK_INITIALIZER,
    BundleError,
    Manifest,
)
from static_edge.runtimes.packed_table import packed_width
from static_edge.runtimes.variants import VARIANTS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TABLE_ELEMENT_TYPES = {v.name: v.onnx_type for v in VARIANTS.values()}
"""The ONNX element type of each variant's table (onnx.TensorProto values: FLOAT, FLOAT16, INT8, UINT8)."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
CODE_PEAKS = {v.name: v.code_peak for v in VARIANTS.values() if v.code_peak is not None}
"""The largest |code| a quantized variant's bytes can hold (`Variant.code_peak`): a decoded value is at most
|row scale| times this."""


def largest_safe_value(dims: int) -> float:
    """The largest table value (in magnitude) whose vectors stay finite in float32: sqrt(FLT_MAX / (2 * dims)).

    With every |value| <= this bound, a mean's squared L2 norm is at most FLT_MAX / 2 and a text's sum stays
    finite up to sqrt(2 * dims * FLT_MAX) > 2.6e19 tokens (docs/bundle-format.md#value-range).
    """
    return math.sqrt(FLOAT32_MAX / (2 * dims))


@dataclass(frozen=True)
class GraphFacts:
    """What the graph itself says about the bundle, read from its nodes and initializers."""

    rows: int
    """The table's row count: the vocabulary the graph can Gather from."""
    columns: int
    """The table's column count (bytes per row for a packed int4 table)."""
    element_type: int
    normalizes: bool
    """A ReduceL2 node is present: the graph L2-normalizes sentence_embedding."""
    unk_token_id: int | None
    """The id the graph leaves out of the mean, or None when it counts every token."""
    table: np.ndarray | None = None
    scales: np.ndarray | None = None


def read_graph_facts(model_file: str | os.PathLike[str], with_values: bool = False) -> GraphFacts:
    """Read the facts of a variant's ONNX file (and its table and scales when `with_values`).

    :raises BundleError: for a file that is not ONNX or lacks the table.
    """
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import numpy_helper

    try:
        model = onnx.load(str(model_file))
    except (DecodeError, ValueError, OSError) as err:
        raise BundleError(f"{model_file} is not a readable ONNX model: {err}") from err
    inits = {init.name: init for init in model.graph.initializer}
    table = inits.get(TABLE_INITIALIZER)
    if table is None or len(table.dims) != 2:
        raise BundleError(f"{model_file} has no 2-D {TABLE_INITIALIZER!r}; was it written by static-edge export?")
    unk = inits.get(UNK_INITIALIZER)
    scales = inits.get(SCALES_INITIALIZER)
    return GraphFacts(
        rows=int(table.dims[0]),
        columns=int(table.dims[1]),
        element_type=int(table.data_type),
        normalizes=any(node.op_type == "ReduceL2" for node in model.graph.node),
        unk_token_id=None if unk is None else int(numpy_helper.to_array(unk)),
        table=numpy_helper.to_array(table) if with_values else None,
        scales=numpy_helper.to_array(scales) if with_values and scales is not None else None,
    )


def tokenizer_id_span(tokenizer: Tokenizer) -> int:
    """One more than the largest id `tokenizer` can produce: its vocabulary's and added tokens' largest id + 1.

    Not `get_vocab_size`, which counts tokens: a vocabulary edited to {"a": 0, "b": 99999} has 2 tokens, and the
    id 99999 would pass a size check, then crash Gather (or index past the numpy table) at encode.
    """
    return max(tokenizer.get_vocab(with_added_tokens=True).values(), default=-1) + 1


def check_manifest_against_graph(
    manifest: Manifest, variant: str, facts: GraphFacts, tokenizer_ids: int, model_file: Path
) -> None:
    """Refuse a manifest whose dims, vocab_size, normalize, unknown-token rule or ids disagree with the graph.

    :param tokenizer_ids: one more than the largest id the bundle's tokenizer produces (`tokenizer_id_span`).
    :raises BundleError: naming the manifest key and both values.
    """

    def refuse(key: str, recorded: object, actual: object, what: str) -> BundleError:
        return BundleError(
            f"{MANIFEST_FILE} says {key} = {recorded!r} but {what} is {actual!r}: "
            "the manifest does not describe this bundle (edited by hand or by an attacker?)"
        )

    expected_type = TABLE_ELEMENT_TYPES.get(variant)
    if expected_type is not None and facts.element_type != expected_type:
        raise refuse(f"files[{model_file.name!r}] (variant {variant})", variant, facts.element_type, "its table type")
    record = VARIANTS.get(variant)
    columns = packed_width(manifest.dims, record.bits) if record is not None and record.packed else manifest.dims
    if facts.columns != columns:
        raise refuse("dims", manifest.dims, facts.columns, f"the width of {model_file.name}'s table")
    if facts.rows != manifest.vocab_size:
        raise refuse("vocab_size", manifest.vocab_size, facts.rows, f"the row count of {model_file.name}'s table")
    if facts.normalizes != manifest.normalize:
        raise refuse("normalize", manifest.normalize, facts.normalizes, f"whether {model_file.name} normalizes")
    masked = manifest.unk_token_id if manifest.mask_unknown else None
    if facts.unk_token_id != masked:
        raise refuse("the unknown-token rule (mask_unknown, unk_token_id)", masked, facts.unk_token_id, "the graph's")
    if tokenizer_ids > facts.rows:
        what = "the tokenizer's vocabulary (one more than its largest id; an id past the table's last row)"
        raise refuse("vocab_size", manifest.vocab_size, tokenizer_ids, what)
    for key in ("pad_token_id", "unk_token_id"):
        value = getattr(manifest, key)
        if value is not None and not 0 <= value < facts.rows:
            raise refuse(key, value, facts.rows, "the table's row count")


def check_max_length(manifest: Manifest, truncation: dict | None) -> None:
    """Refuse a manifest whose max_length is not the truncation written into tokenizer.json.

    :param truncation: the bundle tokenizer's truncation settings (`Tokenizer.truncation`), None for none.
    :raises BundleError: naming both values.
    """
    actual = None if truncation is None else truncation.get("max_length")
    if actual != manifest.max_length:
        raise BundleError(
            f"{MANIFEST_FILE} says max_length = {manifest.max_length!r} but tokenizer.json truncates at {actual!r}: "
            "the manifest does not describe this bundle (edited by hand or by an attacker?)"
        )


def first_non_finite_row(table: np.ndarray) -> int | None:
    """The index of the first row holding a NaN or an infinity, or None when every value is finite."""
    if not np.issubdtype(table.dtype, np.floating):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(table, dtype=np.float64)):  # NaN and inf propagate: one pass, no boolean copy
            return None
    finite = np.isfinite(table)
    if finite.all():
        return None
    rows = finite.reshape(len(table), -1).all(axis=1) if table.ndim > 1 else finite
    return int(np.flatnonzero(~rows)[0])


def check_finite_values(facts: GraphFacts, model_file: Path) -> None:
    """Refuse a table or row scales holding NaN or infinity (they would turn every text using the row into NaN).

    :raises BundleError: naming the first bad row.
    """
    for name, values in ((TABLE_INITIALIZER, facts.table), (SCALES_INITIALIZER, facts.scales)):
        if values is None:
            continue
        row = first_non_finite_row(values)
        if row is not None:
            raise BundleError(f"{model_file}: {name} holds NaN or infinity in row {row}; refusing the bundle")


def largest_decoded_value(variant: str, table: np.ndarray, scales: np.ndarray | None) -> tuple[int, float]:
    """The row whose decoded values can be largest, and that bound: max |value| for a float table, |row scale|
    times the variant's largest code for a quantized one. NaN and infinities are left out ((0, 0.0) if empty)."""
    values, factor = (table, 1.0) if scales is None else (scales, float(CODE_PEAKS[variant]))
    if values.size == 0:
        return 0, 0.0
    magnitudes = np.abs(values.astype(np.float64).reshape(len(values), -1))
    peaks = np.where(np.isfinite(magnitudes), magnitudes, 0.0).max(axis=1)
    row = int(np.argmax(peaks))
    return row, float(peaks[row]) * factor


def range_message(variant: str, row: int, value: float, dims: int, token: str | None = None) -> str:
    """One sentence saying that a variant's row reaches `value`, beyond `largest_safe_value(dims)`."""
    where = f"row {row}" + ("" if token is None else f" (token {token!r})")
    return (
        f"the {variant} table's {where} reaches {value:.3g}, beyond {largest_safe_value(dims):.3g}, the largest value "
        f"a {dims}-dimension table may hold: a text's mean or its L2 norm would overflow float32"
    )


def check_value_range(variant: str, facts: GraphFacts, dims: int, model_file: Path) -> None:
    """Refuse a table whose decoded values may exceed `largest_safe_value(dims)` (vectors would overflow float32).

    :raises BundleError: naming the row.
    """
    values, factor = (facts.table, 1.0) if facts.scales is None else (facts.scales, float(CODE_PEAKS[variant]))
    if values is None or values.size == 0 or not np.issubdtype(values.dtype, np.floating):
        return
    if max(float(values.max()), -float(values.min())) * factor <= largest_safe_value(dims):
        return  # the common case: two passes, no copy of the table
    row, value = largest_decoded_value(variant, facts.table, facts.scales)
    if value > largest_safe_value(dims):
        raise BundleError(f"{model_file}: {range_message(variant, row, value, dims)}; refusing the bundle")


def check_bundle_model(
    manifest: Manifest, variant: str, model_file: Path, tokenizer_ids: int, scan_values: bool
) -> GraphFacts:
    """Read `model_file` and run every check: the manifest against the graph (and `tokenizer_ids`, one more than
    the tokenizer's largest id, against its rows), and (`scan_values`) finite values."""
    facts = read_graph_facts(model_file, with_values=scan_values)
    check_manifest_against_graph(manifest, variant, facts, tokenizer_ids, model_file)
    if scan_values:
        check_finite_values(facts, model_file)
        check_value_range(variant, facts, manifest.dims, model_file)
    return facts
