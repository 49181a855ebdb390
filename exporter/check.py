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

# spec: docs/bundle-format.md#parity-tolerances
TOL_SOURCE_ABS = 1e-5
TOL_NUMPY_ABS = 1e-6
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
"""u: the relative rounding error of one float32 operation; `numpy_tolerance` grows with it per token."""
TOL_POOLING_ABS = 1e-6
TOL_FP16_SOURCE_COS = 0.9999
TOL_FP16_COS = 0.9999
TOL_INT8_MEAN_COS = 0.999
TOL_INT8_MIN_COS = 0.995
# int4 (7 levels a side): on the 256-dim quickstart model the parity set measured mean 0.9905, min 0.982
# (STS-B dev sentences: mean 0.990, min 0.973), so these leave room for other tables, not for bugs.
TOL_INT4_MEAN_COS = 0.98
TOL_INT4_MIN_COS = 0.95
# int2 (ternary) is not a close copy: the quickstart model measured mean 0.863, min 0.779 on the parity set
# (STS-B dev: mean 0.860, min 0.773); an 8-dim test table measured min 0.697. These bounds catch a broken
# decode (cosine near 0), not quality, which the quality grid measures instead.
TOL_INT2_MEAN_COS = 0.75
TOL_INT2_MIN_COS = 0.5


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
        return self.value <= self.tolerance if self.at_most else self.value >= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class ParityReport:
    reference: str
    texts: int
    rows: list[ParityRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def failures(self) -> list[ParityRow]:
        return [row for row in self.rows if not row.passed]

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> ParityReport:
        """A report as `to_dict` wrote it into a manifest."""
        fields = ("pair", "metric", "value", "tolerance", "at_most")
        rows = [ParityRow(**{k: row[k] for k in fields}) for row in recorded.get("rows", [])]
        return cls(recorded.get("reference", ""), int(recorded.get("texts", 0)), rows, list(recorded.get("notes", [])))

    def to_dict(self) -> dict[str, Any]:
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
    dims, normalize = manifest.dims, manifest.normalize

    trust_rows, trust_notes, refused = _trust_rows(bundle, manifest, source, recorded_source=reference is None)
    if refused is not None:
        # the runtimes refuse such a table: report it instead of failing inside them
        note = refused
        report = ParityReport(reference=source.model_id, texts=0, rows=trust_rows, notes=[*trust_notes, note])
        if write:
            _record(bundle, manifest, report)
        return report

    ort = {v: load(bundle, variant=v) for v in manifest.variants}
    vectors = {v: model.encode(texts, batch_size=len(texts)) for v, model in ort.items()}
    report = ParityReport(reference=f"{own_encoder_name(source)} ({source.model_id})", texts=len(texts))
    rows = report.rows
    report.notes.extend(trust_notes)

    bundle_ids = [ort["fp32"].tokenizer.counted_ids(ids) for ids in ort["fp32"].tokenizer.encode(texts)]
    mismatched = sum(a != b for a, b in zip(bundle_ids, source.encode_ids(texts), strict=True))
    rows.append(ParityRow("bundle tokenizer vs source tokenizer", "texts with other ids", mismatched, 0, True))

    exact = source.reference_encode(texts, dims=dims, normalize=normalize)
    own = None if pruned else own_encode(source, texts, dims, normalize)
    if pruned:
        report.notes.append(
            "pruned vocabulary: compared with the mean of the source's rows for the kept tokens "
            f"({own_encoder_name(source)} would tokenize with the full vocabulary)"
        )
    elif own is None:
        report.notes.append(f"{own_encoder_name(source)} is not installed: compared with the float32 table mean")
    if own is not None and source.table.dtype == np.float32:
        rows.append(
            ParityRow(
                f"fp32 onnxruntime vs {own_encoder_name(source)}",
                "max abs diff",
                max_abs(vectors["fp32"], own),
                TOL_SOURCE_ABS,
                True,
            )
        )
    else:
        rows.append(
            ParityRow(
                "fp32 onnxruntime vs float32 mean of the source table",
                "max abs diff",
                max_abs(vectors["fp32"], exact),
                TOL_SOURCE_ABS,
                True,
            )
        )
        if own is not None:
            rows.append(
                ParityRow(
                    f"fp32 onnxruntime vs {own_encoder_name(source)} ({source.table.dtype} source)",
                    "min cosine",
                    float(rowwise_cosine(vectors["fp32"], own).min()),
                    TOL_FP16_SOURCE_COS,
                    False,
                )
            )

    longest = max(len(ids) for ids in ort["fp32"].tokenizer.encode(texts))
    for variant in manifest.variants:
        numpy_model = load(bundle, variant=variant, backend="numpy")
        numpy_vectors = numpy_model.encode(texts, batch_size=len(texts))
        rows.append(
            ParityRow(
                f"numpy vs onnxruntime ({variant})",
                "max abs diff",
                max_abs(numpy_vectors, vectors[variant]),
                numpy_tolerance(longest, numpy_model.largest_value()),
                True,
            )
        )

    rows.append(
        ParityRow(
            "masked mean of token_embeddings vs sentence_embedding (fp32)",
            "max abs diff",
            _pooling_gap(ort["fp32"], texts),
            TOL_POOLING_ABS,
            True,
        )
    )

    if "fp16" in vectors:
        rows.append(
            ParityRow(
                "fp16 vs fp32",
                "min cosine",
                float(rowwise_cosine(vectors["fp16"], vectors["fp32"]).min()),
                TOL_FP16_COS,
                False,
            )
        )
    if "int8" in vectors:
        cos = rowwise_cosine(vectors["int8"], vectors["fp32"])
        rows.append(ParityRow("int8 vs fp32", "mean cosine", float(cos.mean()), TOL_INT8_MEAN_COS, False))
        rows.append(ParityRow("int8 vs fp32", "min cosine", float(cos.min()), TOL_INT8_MIN_COS, False))
    for variant, mean_tol, min_tol in (
        ("int4", TOL_INT4_MEAN_COS, TOL_INT4_MIN_COS),
        ("int2", TOL_INT2_MEAN_COS, TOL_INT2_MIN_COS),
    ):
        if variant in vectors:
            cos = rowwise_cosine(vectors[variant], vectors["fp32"])
            rows.append(ParityRow(f"{variant} vs fp32", "mean cosine", float(cos.mean()), mean_tol, False))
            rows.append(ParityRow(f"{variant} vs fp32", "min cosine", float(cos.min()), min_tol, False))

    rows.extend(trust_rows)
    if write:
        _record(bundle, manifest, report)
    return report


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
