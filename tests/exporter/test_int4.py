"""The packed variants (int4, and the ternary int2): bit layout, quantization, graph, parity across runtimes."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from static_edge.exporter import ExportOptions, check_bundle, export
from static_edge.exporter.quantization import quantize_rows_int2, quantize_rows_int4
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.bundle import VARIANT_FILES, verify_files
from static_edge.runtimes.packed_table import pack_bits, pack_int4, unpack_bits, unpack_int4
from static_edge.runtimes.parity_texts import PARITY_TEXTS


@pytest.fixture(scope="module")
def int4_bundle(tmp_path_factory, st_wordpiece):
    """A 128-dim export with the int8, int4 and int2 tables."""
    options = ExportOptions(dims=128, int8=True, int4=True, int2=True)
    return export(st_wordpiece, tmp_path_factory.mktemp("int4") / "b", options)


def test_nibble_layout_is_the_documented_contract():
    """Nibble layout is the documented contract."""
    # column 2k -> low nibble, 2k+1 -> high nibble, stored as q + 8; odd dims pad the last high nibble with 8.
    packed = pack_int4(np.array([[1, -1, 0], [7, -7, -3]]))
    assert packed.dtype == np.uint8 and packed.shape == (2, 2)
    assert packed.tolist() == [[0x79, 0x88], [0x1F, 0x85]]
    values = np.random.default_rng(0).integers(-7, 8, size=(20, 9))
    np.testing.assert_array_equal(unpack_int4(pack_int4(values), 9), values)
    with pytest.raises(ValueError, match=r"\[-7, 7\]"):
        pack_int4(np.array([[8]]))
    # int2: column 4k + j in bits 2j..2j+1 of byte k, stored as q + 1; padding fields are 1 (zero)
    assert pack_bits(np.array([[1, -1, 0, 1, -1]]), 2).tolist() == [[0b10_01_00_10, 0b01_01_01_00]]
    ternary = np.random.default_rng(0).integers(-1, 2, size=(20, 7))
    np.testing.assert_array_equal(unpack_bits(pack_bits(ternary, 2), 7, 2), ternary)


def test_quantization_error_is_at_most_half_a_step_and_zero_rows_stay_zero():
    """Quantization error is at most half a step and zero rows stay zero."""
    table = np.random.default_rng(1).normal(size=(50, 33)).astype(np.float32)
    table[7] = 0
    packed, scales = quantize_rows_int4(table)
    values = unpack_int4(packed, 33).astype(np.float32) * scales[:, None]
    assert np.all(np.abs(values - table) <= scales[:, None] / 2 + 1e-7)
    assert scales[7] == 1.0 and not values[7].any()
    np.testing.assert_allclose(np.abs(values).max(axis=1)[:7], np.abs(table).max(axis=1)[:7], rtol=1e-6)


def test_int2_is_ternary_with_the_mean_kept_magnitude_as_scale():
    """int2 is ternary with the mean kept magnitude as scale."""
    table = np.array([[0.1, -0.9, 0.02, 0.5], [0, 0, 0, 0]], dtype=np.float32)
    packed, scales = quantize_rows_int2(table)
    values = unpack_bits(packed, 4, 2)
    # mean |x| = 0.38; kept where |x| > 0.19: -0.9 and 0.5, scale (0.9 + 0.5) / 2
    assert values.tolist() == [[0, -1, 0, 1], [0, 0, 0, 0]]
    np.testing.assert_allclose(scales, [0.7, 1.0], rtol=1e-6)


def test_bundle_records_int4_as_default_and_transformers_js_q4(int4_bundle):
    """Bundle records int4 as default and transformers JS q4."""
    manifest = read_manifest(int4_bundle)
    assert manifest.variants == ["fp32", "int8", "int4", "int2"]
    assert manifest.default_variant == "int4", "int2 is never the default"
    assert manifest.files["onnx/model_q4.onnx"]["dtype"] == "int4"
    assert manifest.files["onnx/model_q2.onnx"]["dtype"] == "int2"
    verify_files(int4_bundle, manifest)
    config = json.loads((int4_bundle / "config.json").read_text())
    assert config["transformers.js_config"]["dtype"] == "q4"  # transformers.js then loads onnx/model_q4.onnx
    sizes = manifest.variant_bytes()
    assert sizes["int4"] < 0.6 * sizes["int8"] and sizes["int2"] < 0.6 * sizes["int4"], sizes


@pytest.mark.parametrize("variant", ["int4", "int2"])
def test_graph_uses_standard_ops_and_a_raw_packed_initializer(int4_bundle, variant):
    """Graph uses standard ops and a raw packed initializer."""
    model = onnx.load(str(int4_bundle / VARIANT_FILES[variant]))
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 13
    assert all(node.domain in ("", "ai.onnx") for node in model.graph.node)
    assert "BitShift" in {node.op_type for node in model.graph.node}
    inits = {init.name: init for init in model.graph.initializer}
    table, scales = inits["embedding_table"], inits["embedding_row_scales"]
    # raw_data, so a JavaScript reader finds the bytes by name without a protobuf decoder for packed fields
    width = 64 if variant == "int4" else 32
    assert table.data_type == onnx.TensorProto.UINT8 and table.raw_data and list(table.dims)[1] == width
    assert scales.data_type == onnx.TensorProto.FLOAT and scales.raw_data
    # Gather runs on the packed table: only gathered rows are unpacked.
    assert any(n.op_type == "Gather" and n.input[0] == "embedding_table" for n in model.graph.node)


def _independent_reference(bundle, texts, dims, variant):
    """Mean of dequantized rows, decoded from the file's initializers here with plain integer arithmetic."""
    model = onnx.load(str(bundle / VARIANT_FILES[variant]))
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    packed, scales = inits["embedding_table"].astype(np.int64), inits["embedding_row_scales"].astype(np.float64)
    base, offset = (16, 8) if variant == "int4" else (4, 1)
    fields = [packed // base**j % base for j in range(8 // (2 if variant == "int2" else 4))]
    values = np.stack(fields, axis=2).reshape(len(packed), -1)[:, :dims] - offset
    table = values * scales[:, None]
    tokenizer = load(bundle, variant=variant).tokenizer
    out = np.zeros((len(texts), dims))
    for row, ids in enumerate(tokenizer.encode(texts)):
        counted = tokenizer.counted_ids(ids)
        if counted:
            out[row] = table[counted].mean(axis=0)
    return out


@pytest.mark.parametrize("dims", [128, 127, 126])
def test_onnxruntime_and_numpy_decode_the_same_packed_vectors(tmp_path, st_wordpiece, int4_bundle, dims):
    """Onnxruntime and numpy decode the same packed vectors."""
    options = ExportOptions(dims=dims, int4=True, int2=True)
    bundle = int4_bundle if dims == 128 else export(st_wordpiece, tmp_path / "odd", options)
    for variant in ("int4", "int2"):
        onnx_vectors = load(bundle, variant=variant).encode(PARITY_TEXTS)
        numpy_vectors = load(bundle, variant=variant, backend="numpy").encode(PARITY_TEXTS)
        assert onnx_vectors.shape == (len(PARITY_TEXTS), dims)
        np.testing.assert_allclose(numpy_vectors, onnx_vectors, atol=1e-6)
        expected = _independent_reference(bundle, PARITY_TEXTS, dims, variant)
        np.testing.assert_allclose(onnx_vectors, expected, atol=1e-5)


@pytest.mark.parametrize("variant", ["int4", "int2"])
def test_token_embeddings_pool_to_the_sentence_embedding(int4_bundle, variant):
    """Token embeddings pool to the sentence embedding."""
    session = ort.InferenceSession(str(int4_bundle / VARIANT_FILES[variant]), providers=["CPUExecutionProvider"])
    ids = np.array([[5, 9, 11, 0], [7, 0, 0, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=np.int64)
    tokens, sentences = session.run(None, {"input_ids": ids, "attention_mask": mask})
    pooled = (tokens * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(pooled, sentences, atol=1e-6)
    empty = session.run(None, {"input_ids": np.zeros((2, 0), np.int64), "attention_mask": np.zeros((2, 0), np.int64)})
    assert empty[0].shape == (2, 0, 128) and not empty[1].any()


def test_check_reports_int4_cosine_rows_and_passes(int4_bundle):
    """Check reports int4 cosine rows and passes."""
    report = check_bundle(int4_bundle, write=False)
    assert report.passed, [r.to_dict() for r in report.failures()]
    for variant in ("int4", "int2"):
        cosines = {r.metric: r for r in report.rows if r.pair == f"{variant} vs fp32"}
        assert set(cosines) == {"mean cosine", "min cosine"}
        assert cosines["mean cosine"].value < 0.9999, f"{variant} must differ from fp32: its file was checked"
        assert any(r.pair == f"numpy vs onnxruntime ({variant})" for r in report.rows)


def test_unigram_normalized_and_model2vec_unknown_rules_hold_in_int4(tmp_path, st_unigram, m2v_model):
    """Unigram normalized and model2vec unknown rules hold in int4."""
    for model in (st_unigram, m2v_model):
        bundle = export(model, tmp_path / model.name, ExportOptions(int4=True))
        report = check_bundle(bundle, write=False)
        assert report.passed, [r.to_dict() for r in report.failures()]


def test_fastembed_loads_the_int4_file(int4_bundle):
    """Fastembed loads the int4 file."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    name = "static-edge/test-int4"
    TextEmbedding.add_custom_model(
        model=name,
        pooling=PoolingType.MEAN,
        normalization=False,
        sources=ModelSource(hf=name),
        dim=128,
        model_file=VARIANT_FILES["int4"],
    )
    model = TextEmbedding(model_name=name, specific_model_path=str(int4_bundle))
    texts = [t for t in PARITY_TEXTS if t.strip()]
    theirs = np.array(list(model.embed(texts)))
    np.testing.assert_allclose(theirs, load(int4_bundle, variant="int4").encode(texts), atol=1e-5)


def test_cli_export_int4(tmp_path, st_wordpiece):
    """CLI export int4."""
    from static_edge.cli import main

    out = tmp_path / "cli"
    assert main(["export", str(st_wordpiece), "--dims", "64", "--int4", "--int2", "-o", str(out)]) == 0
    assert read_manifest(out).default_variant == "int4" and "int2" in read_manifest(out).variants
    assert main(["check", str(out), "--no-write"]) == 0
