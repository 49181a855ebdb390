"""`static-edge check` on the tables themselves: every value of every variant, not only the parity texts.

The parity texts touch a few hundred rows; a NaN in any other row, or an int8 row that quantized badly,
would pass them. These rows read each variant's whole table back from its ONNX file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from static_edge.runtimes.bundle import VARIANT_FILES, Manifest
from static_edge.runtimes.bundle_checks import (
    largest_decoded_value,
    largest_safe_value,
    range_message,
    read_graph_facts,
)
from static_edge.runtimes.packed_table import unpack_bits
from static_edge.runtimes.variants import REFERENCE, VARIANTS, Variant

TOL_NON_FINITE = 0
NON_FINITE_METRIC = "NaN or infinite values"
RANGE_METRIC = "largest magnitude (float32-safe bound)"
REFUSED_METRICS = (NON_FINITE_METRIC, RANGE_METRIC)
"""Findings the runtimes refuse to load a bundle for: `check` runs no parity text when one of them fails."""


@dataclass(frozen=True)
class TableFinding:
    """One measurement of the tables, in the shape of a parity row."""

    pair: str
    metric: str
    value: float
    tolerance: float


def non_finite_count(values: np.ndarray | None) -> int:
    """How many values are NaN or infinite (0 for integer arrays and None)."""
    if values is None or not np.issubdtype(values.dtype, np.floating):
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def worst_row_error(reference: np.ndarray, reconstructed: np.ndarray) -> tuple[int, float]:
    """The row whose reconstruction is farthest from the reference, relative to the row's norm, and that error.

    An all-zero reference row counts its error relative to 1 (it must stay zero). A row whose error is not finite
    (NaN, infinity, or beyond float64) counts as float64's largest value, so the report stays JSON.
    """
    reference = reference.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        error = np.linalg.norm(reconstructed.astype(np.float64) - reference, axis=1)
        norms = np.linalg.norm(reference, axis=1)
        relative = error / np.where(norms > 0, norms, 1.0)
    relative = np.where(np.isfinite(relative), relative, np.finfo(np.float64).max)
    row = int(np.argmax(relative))
    return row, float(relative[row])


def scan_tables(bundle: Path, manifest: Manifest, token_of) -> list[TableFinding]:
    """Non-finite values and the largest decoded value of every variant's table and scales; the worst decoded row
    against the fp32 row, for the variants whose record sets a `row_error` tolerance (int8).

    :param token_of: id -> token string, to name the worst row.
    """
    findings: list[TableFinding] = []
    facts = {v: read_graph_facts(bundle / VARIANT_FILES[v], with_values=True) for v in manifest.variants}
    for variant, fact in facts.items():
        bad = non_finite_count(fact.table) + non_finite_count(fact.scales)
        findings.append(TableFinding(f"{variant} table (every row)", NON_FINITE_METRIC, bad, TOL_NON_FINITE))
        row, value = largest_decoded_value(variant, fact.table, fact.scales)
        pair = f"{variant} table (largest value: row {row}, token {token_of(row)!r})"
        findings.append(TableFinding(pair, RANGE_METRIC, value, largest_safe_value(manifest.dims)))
    for variant, fact in facts.items():
        record = VARIANTS[variant]
        if record.row_error is None or fact.scales is None:
            continue
        codes = unpack_bits(fact.table, manifest.dims, record.bits) if record.packed else fact.table
        reconstructed = codes.astype(np.float64) * fact.scales[:, None]
        row, error = worst_row_error(facts[REFERENCE.name].table, reconstructed)
        pair = f"{variant} table vs {REFERENCE.name} table (worst row {row}, token {token_of(row)!r})"
        findings.append(TableFinding(pair, "relative row error", error, record.row_error))
    return findings


def refused_table_note(findings: list[TableFinding]) -> str | None:
    """One line saying why the runtimes would refuse the tables, or None when they would load them."""
    failed = [f for f in findings if f.metric in REFUSED_METRICS and not f.value <= f.tolerance]
    if not failed:
        return None
    what = "NaN or infinity" if failed[0].metric == NON_FINITE_METRIC else "a value beyond the float32-safe bound"
    return f"the runtimes refuse to load a table with {what} ({failed[0].pair}): the parity texts were not run"


def range_problem(variant: str, values: np.ndarray, scales: np.ndarray | None, dims: int, token_of) -> str | None:
    """Why a variant's table (as exported: values and row scales) would be refused by the runtimes because its
    vectors could overflow float32, naming the row and its token; None when it fits."""
    row, value = largest_decoded_value(variant, values, scales)
    return range_message(variant, row, value, dims, token_of(row)) if value > largest_safe_value(dims) else None


def narrow_float_problem(variant: Variant, table: np.ndarray, token_of) -> str | None:
    """Why the float32 table cannot be written as `variant` when that is a narrower float table (fp16: a value
    beyond float16's 65504), naming the row; None when it fits or the variant is not a narrower float."""
    if variant.scaled or variant.bits >= REFERENCE.bits:
        return None
    largest = float(np.finfo(np.dtype(variant.dtype)).max)
    row, value = largest_decoded_value(REFERENCE.name, table, None)
    if value <= largest:
        return None
    return (
        f"row {row} of the embedding table (token {token_of(row)!r}) holds {value:.6g}, beyond {variant.dtype}'s "
        f"largest value {largest:g}: the {variant.name} variant cannot hold it; export without --{variant.name}"
    )


def source_hash_note(recorded: dict, weights_sha256: str, model_id: str) -> str | None:
    """A sentence saying the source changed since export, or None when its weights hash still matches."""
    expected = recorded.get("sha256")
    if expected is None or expected == weights_sha256:
        return None
    return (
        f"the source {model_id} no longer matches the hash recorded at export "
        f"(recorded {expected}, now {weights_sha256}): it changed since this bundle was exported, so the source "
        "rows below compare the bundle with a different model"
    )
