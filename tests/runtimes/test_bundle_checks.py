"""Cross-checks of a bundle before encoding (runtimes/bundle_checks.py): each check refuses its own mismatch,
naming the manifest key, and `load` runs them all."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from model_builders import edit_manifest
from tokenizers import Tokenizer

from static_edge.exporter.graph import build_graph
from static_edge.runtimes import BundleError, load
from static_edge.runtimes.bundle import MANIFEST_FILE, TOKENIZER_FILE, VARIANT_FILES, file_entry, read_manifest
from static_edge.runtimes.bundle_checks import (
    GraphFacts,
    check_bundle_model,
    check_finite_values,
    check_manifest_against_graph,
    check_max_length,
    check_value_range,
    first_non_finite_row,
    largest_decoded_value,
    largest_safe_value,
    read_graph_facts,
    tokenizer_id_span,
)

BACKENDS = ("onnxruntime", "numpy")


def _facts(small_bundle: Path, **changes) -> GraphFacts:
    """The true facts of the bundle's fp32 graph, with `changes` applied."""
    return dataclasses.replace(read_graph_facts(small_bundle / VARIANT_FILES["fp32"]), **changes)


# each check on its own


def test_the_facts_of_an_exported_graph_match_its_manifest(small_bundle):
    """The facts of an exported graph match its manifest."""
    manifest = read_manifest(small_bundle)
    facts = read_graph_facts(small_bundle / VARIANT_FILES["fp32"], with_values=True)
    assert (facts.rows, facts.columns) == (manifest.vocab_size, manifest.dims) == facts.table.shape
    assert facts.element_type == onnx.TensorProto.FLOAT and facts.scales is None
    assert facts.normalizes == manifest.normalize
    int8 = read_graph_facts(small_bundle / VARIANT_FILES["int8"], with_values=True)
    assert int8.element_type == onnx.TensorProto.INT8 and int8.scales.shape == (manifest.vocab_size,)
    assert read_graph_facts(small_bundle / VARIANT_FILES["fp32"]).table is None  # values only when asked


def test_a_file_that_is_not_onnx_or_has_no_table_is_refused(tmp_path):
    """A file that is not ONNX or has no table is refused."""
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07not a protobuf at all")
    with pytest.raises(BundleError, match="is not a readable ONNX model"):
        read_graph_facts(tmp_path / "junk.onnx")
    graph = build_graph(np.ones((4, 3), np.float32))
    graph.graph.initializer[0].name = "something_else"
    onnx.save_model(graph, str(tmp_path / "renamed.onnx"))
    with pytest.raises(BundleError, match="has no 2-D 'embedding_table'"):
        read_graph_facts(tmp_path / "renamed.onnx")


def test_the_tokenizer_span_is_its_largest_id_plus_one_not_its_size(small_bundle):
    """The tokenizer span is its largest id plus one not its size."""
    tokenizer = Tokenizer.from_file(str(small_bundle / TOKENIZER_FILE))
    assert tokenizer_id_span(tokenizer) == tokenizer.get_vocab_size()
    data = json.loads(tokenizer.to_str())
    data["model"]["vocab"] = {"[UNK]": 0, "far": 99_999}
    data["added_tokens"] = []
    sparse = Tokenizer.from_str(json.dumps(data))
    assert sparse.get_vocab_size() == 2 and tokenizer_id_span(sparse) == 100_000


@pytest.mark.parametrize(
    ("facts", "manifest", "named"),
    [
        ({"element_type": onnx.TensorProto.FLOAT16}, {}, r"files\['model.onnx'\] \(variant fp32\)"),
        ({"columns": 15}, {}, "dims = 16 but the width"),
        ({"rows": 10}, {}, "vocab_size = .* but the row count"),
        ({"normalizes": True}, {"normalize": False}, "normalize = False but whether"),
        ({"unk_token_id": 1}, {"mask_unknown": False}, "the unknown-token rule"),
        ({}, {"pad_token_id": -1}, "pad_token_id = -1"),
    ],
)
def test_each_disagreement_with_the_graph_names_its_key(small_bundle, facts, manifest, named):
    """Each disagreement with the graph names its key."""
    truth = read_manifest(small_bundle)
    span = truth.vocab_size
    model_file = small_bundle / VARIANT_FILES["fp32"]
    check_manifest_against_graph(truth, "fp32", _facts(small_bundle), span, model_file)  # the truth passes
    with pytest.raises(BundleError, match=named):
        check_manifest_against_graph(
            dataclasses.replace(truth, **manifest), "fp32", _facts(small_bundle, **facts), span, model_file
        )


def test_a_tokenizer_reaching_past_the_table_is_refused(small_bundle):
    """A tokenizer reaching past the table is refused."""
    manifest = read_manifest(small_bundle)
    with pytest.raises(BundleError, match="vocab_size .* the tokenizer's vocabulary"):
        check_manifest_against_graph(
            manifest, "fp32", _facts(small_bundle), manifest.vocab_size + 1, small_bundle / VARIANT_FILES["fp32"]
        )


def test_max_length_must_be_the_tokenizer_truncation(small_bundle):
    """Max length must be the tokenizer truncation."""
    manifest = dataclasses.replace(read_manifest(small_bundle), max_length=64)
    check_max_length(manifest, {"max_length": 64, "strategy": "longest_first"})
    with pytest.raises(BundleError, match="max_length = 64 but tokenizer.json truncates at 32"):
        check_max_length(manifest, {"max_length": 32})
    with pytest.raises(BundleError, match="truncates at None"):
        check_max_length(manifest, None)
    check_max_length(dataclasses.replace(manifest, max_length=None), None)


def test_the_first_non_finite_row_is_found():
    """The first non finite row is found."""
    table = np.zeros((6, 4), np.float32)
    assert first_non_finite_row(table) is None
    table[4, 1], table[2, 3] = np.inf, np.nan
    assert first_non_finite_row(table) == 2
    assert first_non_finite_row(np.array([1.0, -np.inf], np.float16)) == 1
    assert first_non_finite_row(np.full((3, 2), 7, np.int8)) is None  # integer codes cannot be NaN


def test_non_finite_values_or_scales_are_refused_naming_the_row(tmp_path):
    """Non finite values or scales are refused naming the row."""
    table = np.ones((5, 4), np.float32)
    scales = np.ones(5, np.float32)
    facts = GraphFacts(rows=5, columns=4, element_type=1, normalizes=False, unk_token_id=None)
    check_finite_values(dataclasses.replace(facts, table=table, scales=scales), tmp_path / "m.onnx")
    scales[3] = np.nan
    with pytest.raises(BundleError, match="embedding_row_scales holds NaN or infinity in row 3"):
        check_finite_values(dataclasses.replace(facts, table=table, scales=scales), tmp_path / "m.onnx")
    table[1, 0] = -np.inf
    with pytest.raises(BundleError, match="embedding_table holds NaN or infinity in row 1"):
        check_finite_values(dataclasses.replace(facts, table=table), tmp_path / "m.onnx")


def test_values_that_would_overflow_float32_are_refused_naming_the_row(tmp_path):
    """Values that would overflow float32 are refused naming the row."""
    dims = 16
    bound = largest_safe_value(dims)
    assert bound == pytest.approx(np.sqrt(np.finfo(np.float32).max / (2 * dims)))
    table = np.zeros((4, dims), np.float32)
    table[2, 5] = bound * 0.99
    facts = GraphFacts(rows=4, columns=dims, element_type=1, normalizes=False, unk_token_id=None, table=table)
    check_value_range("fp32", facts, dims, tmp_path / "m.onnx")
    table[3, 0] = -bound * 1.01
    assert largest_decoded_value("fp32", table, None) == (3, pytest.approx(bound * 1.01))
    with pytest.raises(BundleError, match="fp32 table's row 3 reaches .* beyond"):
        check_value_range("fp32", facts, dims, tmp_path / "m.onnx")


def test_a_quantized_table_is_bounded_by_its_scale_times_the_largest_code(tmp_path):
    """A quantized table is bounded by its scale times the largest code."""
    dims = 16
    codes = np.zeros((3, dims), np.int8)
    scales = np.full(3, 1e-3, np.float32)
    scales[1] = largest_safe_value(dims) / 128 * 1.5  # a code of -128 would decode past the bound
    facts = GraphFacts(rows=3, columns=dims, element_type=3, normalizes=False, unk_token_id=None)
    facts = dataclasses.replace(facts, table=codes, scales=scales)
    assert largest_decoded_value("int8", codes, scales)[0] == 1
    with pytest.raises(BundleError, match="int8 table's row 1 reaches"):
        check_value_range("int8", facts, dims, tmp_path / "m.onnx")


def test_check_bundle_model_scans_values_only_when_asked(bundle):
    """Check bundle model scans values only when asked."""
    manifest = read_manifest(bundle)
    table = np.ones((manifest.vocab_size, manifest.dims), np.float32)
    table[7, 0] = np.nan
    onnx.save_model(build_graph(table, normalize=manifest.normalize), str(bundle / VARIANT_FILES["fp32"]))
    model_file = bundle / VARIANT_FILES["fp32"]
    facts = check_bundle_model(manifest, "fp32", model_file, manifest.vocab_size, scan_values=False)
    assert facts.table is None
    with pytest.raises(BundleError, match="row 7"):
        check_bundle_model(manifest, "fp32", model_file, manifest.vocab_size, scan_values=True)


# through load: every runtime runs the checks


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("normalize", True),
        ("dims", 10**9),
        ("dims", 8),
        ("vocab_size", 10**6),
        ("mask_unknown", True),
        ("max_length", 7),
    ],
)
def test_a_manifest_that_disagrees_with_its_graph_is_refused(bundle, backend, verify, key, value):
    """A manifest that disagrees with its graph is refused."""
    edit_manifest(bundle, **{key: value})
    with pytest.raises(BundleError, match=key):
        load(bundle, backend=backend, verify=verify)


def test_a_tokenizer_larger_than_the_table_is_refused(bundle):
    """A bigger vocabulary than the table, with its hash rewritten: ids past the last row never reach Gather."""
    tok = Tokenizer.from_file(str(bundle / TOKENIZER_FILE))
    tok.add_tokens([f"extra-token-{i}" for i in range(5)])
    (bundle / TOKENIZER_FILE).write_text(tok.to_str())
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["files"][TOKENIZER_FILE] = file_entry(bundle / TOKENIZER_FILE)
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="vocab_size .* the tokenizer's vocabulary"):
        load(bundle)
