"""`static-edge check`: prove a bundle gives the source model's vectors in every Python runtime."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from static_edge.exporter.reference import own_encode, own_encoder_name
from static_edge.exporter.sources import SourceModelError, StaticSource, read_source
from static_edge.exporter.vocab_pruning import MANIFEST_KEY as PRUNING_MANIFEST_KEY
from static_edge.exporter.vocab_pruning import restrict_to_tokenizer
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.bundle import OUTPUT_SENTENCE, OUTPUT_TOKENS, TOKENIZER_FILE, Manifest, write_manifest
from static_edge.runtimes.embedder import l2_normalize, rowwise_cosine
from static_edge.runtimes.onnx_embedder import gather_padded
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.tokenization import text_starts
from static_edge.runtimes.variants import REFERENCE, VARIANTS

# spec: docs/bundle-format.md#parity-tolerances
TOL_SOURCE_ABS = 1e-5
TOL_NUMPY_ABS = 1e-6
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
"""u: the relative rounding error of one float32 operation; `numpy_tolerance` grows with it per token."""
TOL_POOLING_ABS = 1e-6
TOL_FP16_SOURCE_COS = 0.9999
"""Least cosine of the reference's vectors to a float16 (or other non-float32) source's own encoder."""
# Each variant's tolerances against the reference are in its record: `runtimes.variants.Variant.mean_cosine`,
# `min_cosine` and `row_error`.


@dataclass
class ParityRow:
    """One measured comparison and its tolerance."""

    pair: str
    metric: str
    value: float
    tolerance: float
    at_most: bool
    """True when `value` must be <= tolerance, False when it must be >= tolerance."""

    @property
    def passed(self) -> bool:
        """The measured value is within its tolerance."""
        return self.value <= self.tolerance if self.at_most else self.value >= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """The row as the manifest's `parity.rows` records it, with its verdict."""
        return {**asdict(self), "passed": self.passed}


@dataclass
class ParityReport:
    """What `static-edge check` measured: its rows and notes, stored in the manifest's `parity` key."""

    reference: str
    """The encoder the bundle was compared with, and the source model."""
    texts: int
    """How many parity texts were encoded (0 when the tables were refused before any text ran)."""
    rows: list[ParityRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every row is within its tolerance."""
        return all(row.passed for row in self.rows)

    def failures(self) -> list[ParityRow]:
        """The rows outside their tolerance."""
        return [row for row in self.rows if not row.passed]

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> ParityReport:
        """A report as `to_dict` wrote it into a manifest."""
        fields = ("pair", "metric", "value", "tolerance", "at_most")
        rows = [ParityRow(**{k: row[k] for k in fields}) for row in recorded.get("rows", [])]
        return cls(recorded.get("reference", ""), int(recorded.get("texts", 0)), rows, list(recorded.get("notes", [])))

    def to_dict(self) -> dict[str, Any]:
        """The report as the manifest's `parity` key records it, stamped with the time of the check."""
        return {
            "passed": self.passed,
            "reference": self.reference,
            "texts": self.texts,
            "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rows": [row.to_dict() for row in self.rows],
            "notes": self.notes,
        }


def numpy_tolerance(tokens: int, largest_value: float = 1.0) -> float:
    """The numpy-vs-onnxruntime tolerance for texts of at most `tokens` tokens, over a table whose decoded rows
    hold no value larger than `largest_value` in magnitude: 1e-6 + tokens x u x largest_value (u = 2^-24).

    onnxruntime sums a text's rows in float32, so its rounding error grows with the length; the second term is
    the textbook bound on a float32 sum of n terms (error <= (n - 1) u sum|x|, so for the mean <= n u max|x|),
    which holds for any order of summation and any table scale. numpy stays within 3e-8 of the exact mean at
    any length. Measured on texts of 1k to 323k tokens (repeated sentences, 4-word cycles, random words): at
    least 50 times inside the bound (benchmarks/results/long_text_parity.md). An earlier rule, 1e-6 x
    max(1, n / 1000), was fitted to those measurements and failed on an int8 text of 4 tokens repeated 293
    times (1.19e-6 at 1,172 tokens), found by the property tests.
    """
    return TOL_NUMPY_ABS + tokens * FLOAT32_UNIT_ROUNDOFF * largest_value


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference between two arrays, computed in float64."""
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def check_bundle(
    bundle: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    texts: list[str] | None = None,
    write: bool = True,
) -> ParityReport:
    """Run the parity set through the source's own encoder, onnxruntime and numpy.

    :param reference: the source model (folder or hub id); the manifest's source when None.
    :param write: store the report in the bundle's manifest.
    :raises SourceModelError: when the source model cannot be found.
    """
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    texts = list(PARITY_TEXTS if texts is None else texts)
    source = _open_source(manifest.source, reference, Path(bundle))
    pruned = PRUNING_MANIFEST_KEY in manifest.extra
    if pruned:
        # The bundle holds a corpus's tokens only: the reference is the source's rows of those tokens.
        source = restrict_to_tokenizer(source, Tokenizer.from_file(str(bundle / TOKENIZER_FILE)))

    trust_rows, trust_notes, refused = _trust_rows(bundle, manifest, source, recorded_source=reference is None)
    if refused is not None:
        # the runtimes refuse such a table: report it instead of failing inside them
        report = ParityReport(reference=source.model_id, texts=0, rows=trust_rows, notes=[*trust_notes, refused])
    else:
        report = ParityReport(reference=f"{own_encoder_name(source)} ({source.model_id})", texts=len(texts))
        report.notes.extend(trust_notes)
        _measure(report, bundle, manifest, source, texts, pruned)
        report.rows.extend(trust_rows)
    if write:
        _record(bundle, manifest, report)
    return report


def _measure(
    report: ParityReport, bundle: Path, manifest: Manifest, source: StaticSource, texts: list[str], pruned: bool
) -> None:
    """Add the parity rows (tokenizer, source, numpy, pooling, each variant against fp32) and their notes."""
    ort = {v: load(bundle, variant=v) for v in manifest.variants}
    vectors = {v: model.encode(texts, batch_size=len(texts)) for v, model in ort.items()}
    first = ort[REFERENCE.name]
    rows = report.rows

    encoded = first.tokenizer.encode(texts)
    bundle_ids = [first.tokenizer.counted_ids(ids) for ids in encoded]
    mismatched = sum(a != b for a, b in zip(bundle_ids, source.encode_ids(texts), strict=True))
    rows.append(ParityRow("bundle tokenizer vs source tokenizer", "texts with other ids", mismatched, 0, True))

    own = None if pruned else own_encode(source, texts, manifest.dims, manifest.normalize)
    if pruned:
        report.notes.append(
            "pruned vocabulary: compared with the mean of the source's rows for the kept tokens "
            f"({own_encoder_name(source)} would tokenize with the full vocabulary)"
        )
    elif own is None:
        report.notes.append(f"{own_encoder_name(source)} is not installed: compared with the float32 table mean")
    rows.extend(_source_rows(vectors[REFERENCE.name], source, texts, manifest, own))

    longest = max(len(ids) for ids in encoded)
    rows.extend(_numpy_rows(bundle, manifest.variants, texts, vectors, longest))
    pair = f"masked mean of token_embeddings vs sentence_embedding ({REFERENCE.name})"
    rows.append(ParityRow(pair, "max abs diff", _pooling_gap(first, texts), TOL_POOLING_ABS, True))
    rows.extend(variant_rows(vectors))


def _source_rows(
    vectors: np.ndarray, source: StaticSource, texts: list[str], manifest: Manifest, own: np.ndarray | None
) -> list[ParityRow]:
    """The reference variant's vectors against the source: its own encoder when it is float32, else the float32
    mean of its table (and the own encoder by cosine, when installed)."""
    name = REFERENCE.name
    if own is not None and source.table.dtype == np.float32:
        pair = f"{name} onnxruntime vs {own_encoder_name(source)}"
        return [ParityRow(pair, "max abs diff", max_abs(vectors, own), TOL_SOURCE_ABS, True)]
    exact = source.reference_encode(texts, dims=manifest.dims, normalize=manifest.normalize)
    pair = f"{name} onnxruntime vs float32 mean of the source table"
    rows = [ParityRow(pair, "max abs diff", max_abs(vectors, exact), TOL_SOURCE_ABS, True)]
    if own is not None:
        pair = f"{name} onnxruntime vs {own_encoder_name(source)} ({source.table.dtype} source)"
        cosine = float(rowwise_cosine(vectors, own).min())
        rows.append(ParityRow(pair, "min cosine", cosine, TOL_FP16_SOURCE_COS, False))
    return rows


def _numpy_rows(
    bundle: Path, variants: list[str], texts: list[str], vectors: dict[str, np.ndarray], longest: int
) -> list[ParityRow]:
    """The numpy runtime against onnxruntime, for each variant."""
    rows = []
    for variant in variants:
        numpy_model = load(bundle, variant=variant, backend="numpy")
        numpy_vectors = numpy_model.encode(texts, batch_size=len(texts))
        gap = max_abs(numpy_vectors, vectors[variant])
        tolerance = numpy_tolerance(longest, numpy_model.largest_value())
        rows.append(ParityRow(f"numpy vs onnxruntime ({variant})", "max abs diff", gap, tolerance, True))
    return rows


def variant_rows(vectors: dict[str, np.ndarray]) -> list[ParityRow]:
    """Each variant's vectors against the reference's: mean and min cosine, at the tolerances of its record
    (`Variant.mean_cosine`, `Variant.min_cosine`)."""
    rows = []
    for name, own in vectors.items():
        record = VARIANTS[name]
        if record is REFERENCE:
            continue
        cos = rowwise_cosine(own, vectors[REFERENCE.name])
        pair = f"{name} vs {REFERENCE.name}"
        if record.mean_cosine is not None:
            rows.append(ParityRow(pair, "mean cosine", float(cos.mean()), record.mean_cosine, False))
        if record.min_cosine is not None:
            rows.append(ParityRow(pair, "min cosine", float(cos.min()), record.min_cosine, False))
    return rows


def _record(bundle: Path, manifest: Manifest, report: ParityReport) -> None:
    """The report into the manifest, and the model card rewritten to show it."""
    from static_edge.exporter.model_card import refresh_bundle_card

    manifest.parity = report.to_dict()
    write_manifest(bundle, manifest)
    refresh_bundle_card(bundle)


def _trust_rows(
    bundle: Path, manifest, source: StaticSource, recorded_source: bool
) -> tuple[list[ParityRow], list[str], str | None]:
    """Rows for every variant's whole table (non-finite values, largest value, worst int8 row) and the source's
    recorded hash; notes; and the line saying why the runtimes would refuse the tables (None when they load)."""
    from static_edge.exporter.table_scan import refused_table_note, scan_tables, source_hash_note
    from static_edge.runtimes.bundle import inside_bundle

    tokenizer = Tokenizer.from_file(str(inside_bundle(bundle, TOKENIZER_FILE)))
    findings = scan_tables(bundle, manifest, tokenizer.id_to_token)
    rows = [ParityRow(f.pair, f.metric, f.value, f.tolerance, True) for f in findings]
    notes = []
    note = source_hash_note(manifest.source, source.weights_sha256, source.model_id)
    if note is not None:
        notes.append(note)
        if recorded_source:  # compared with another model on purpose (--reference), the hash is expected to differ
            rows.append(ParityRow("source weights vs the sha256 recorded at export", "changed", 1, 0, True))
    return rows, notes, refused_table_note(findings)


def _open_source(recorded: dict[str, Any], reference: str | os.PathLike[str] | None, bundle: Path) -> StaticSource:
    model = reference if reference is not None else recorded.get("model")
    if model is None:
        raise SourceModelError("the manifest names no source model; pass --reference MODEL")
    local = reference is None and "requested_revision" in recorded and recorded.get("revision") is None
    beside = recorded.get("path_from_bundle")
    if local and not Path(model).exists() and isinstance(beside, str) and (bundle / beside).is_dir():
        model = bundle / beside  # typed relative to another working directory: found from the bundle instead
    if local and not Path(model).exists():  # a hub source always records its commit: this was a local folder
        raise SourceModelError(
            f"the source was the local folder {model} (as typed at export), which is not found from here; "
            "pass --reference MODEL"
        )
    try:
        return read_source(model, revision=None if reference is not None else recorded.get("revision"))
    except (FileNotFoundError, SourceModelError) as err:
        raise SourceModelError(f"cannot open the source model to compare with ({err}); pass --reference MODEL") from err


def _pooling_gap(model, texts: list[str]) -> float:
    """How far a consumer's masked mean of token_embeddings is from the graph's sentence_embedding.

    The consumer's mask is the attention mask, times "not unknown" for sources that drop [UNK].
    """
    ids, lengths = model.tokenizer.flat(texts)
    input_ids, mask = gather_padded(ids, text_starts(lengths), lengths, model.manifest.pad_token_id)
    tokens, sentences = model.run(input_ids, mask, [OUTPUT_TOKENS, OUTPUT_SENTENCE])
    weights = mask.astype(np.float64)
    if model.manifest.mask_unknown and model.manifest.unk_token_id is not None:
        weights *= input_ids != model.manifest.unk_token_id
    pooled = (tokens * weights[:, :, None]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)[:, None]
    if model.manifest.normalize:
        pooled = l2_normalize(pooled)
    return max_abs(pooled, sentences)
