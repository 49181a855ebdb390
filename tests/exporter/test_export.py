"""Export: the bundle's files, graph interface, sizes and parity on every source kind."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from static_edge.exporter import ExportOptions, check_bundle, export, read_source
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.bundle import VARIANT_FILES, verify_files
from static_edge.runtimes.parity_texts import PARITY_TEXTS


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_bundle_layout_and_manifest(st_bundle):
    """Bundle layout and manifest."""
    for name in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "static_edge.json",
        *(VARIANT_FILES[v] for v in ("fp32", "fp16", "int8")),  # the variants st_bundle writes
    ]:
        assert (st_bundle / name).is_file(), name
    manifest = read_manifest(st_bundle)
    assert manifest.dims == 128
    assert manifest.pooling == "mean" and manifest.special_tokens is False
    assert manifest.default_variant == "int8"
    assert manifest.variants == ["fp32", "fp16", "int8"]
    verify_files(st_bundle, manifest)  # every sha256 matches
    config = json.loads((st_bundle / "config.json").read_text())
    assert config["hidden_size"] == 128 and config["vocab_size"] == manifest.vocab_size
    assert config["transformers.js_config"]["dtype"] == "q8"
    tokenizer = json.loads((st_bundle / "tokenizer.json").read_text())
    assert tokenizer["post_processor"] is None and tokenizer["padding"] is None


@pytest.mark.parametrize("variant", ["fp32", "fp16", "int8"])
def test_graph_is_plain_onnx_with_standard_interface(st_bundle, variant):
    """Graph is plain ONNX with standard interface."""
    model = onnx.load(str(st_bundle / VARIANT_FILES[variant]))
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 13
    assert {o.domain: o.version for o in model.opset_import}[""] >= 17
    op_types = {node.op_type for node in model.graph.node}
    assert not op_types & {"Loop", "Scan", "If", "SequenceConstruct", "SequenceAt", "SplitToSequence"}
    assert all(node.domain in ("", "ai.onnx") for node in model.graph.node)
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in model.graph.output] == ["token_embeddings", "sentence_embedding"]
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in model.graph.input)
    if variant == "int8":
        # Gather happens on the int8 table; only gathered rows are widened.
        gather_inputs = {n.input[0] for n in model.graph.node if n.op_type == "Gather"}
        assert "embedding_table" in gather_inputs
        assert not any(n.op_type in ("DequantizeLinear",) for n in model.graph.node)


@pytest.mark.parametrize("variant", ["fp32", "fp16", "int8"])
def test_mean_pooling_token_embeddings_reproduces_sentence_embedding(st_bundle, variant):
    """A consumer that mean-pools token_embeddings with the mask (transformers.js, fastembed) gets our vector."""
    session = _session(st_bundle / VARIANT_FILES[variant])
    tokenizer = load(st_bundle, variant=variant).tokenizer
    rows = tokenizer.encode(PARITY_TEXTS)
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    tokens, sentences = session.run(None, {"input_ids": ids, "attention_mask": mask})
    assert tokens.shape == (len(rows), width, 128) and sentences.shape == (len(rows), 128)
    pooled = (tokens * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(pooled, sentences, atol=1e-6)
    assert np.isfinite(sentences).all()
    assert not sentences[PARITY_TEXTS.index("")].any(), "an empty text gives a zero vector"


def test_int8_file_is_at_most_27_percent_of_fp32(tmp_path, st_wordpiece):
    """int8 file is at most 27 percent of fp32."""
    bundle = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=256, int8=True))
    files = read_manifest(bundle).files
    ratio = files[VARIANT_FILES["int8"]]["bytes"] / files[VARIANT_FILES["fp32"]]["bytes"]
    assert ratio <= 0.27, ratio


def test_check_passes_every_tolerance_on_the_headline_export(st_bundle):
    """Check passes every tolerance on the headline export."""
    report = check_bundle(st_bundle)
    assert report.passed, [r.to_dict() for r in report.failures()]
    pairs = {r.pair for r in report.rows}
    assert "fp32 onnxruntime vs Sentence Transformers" in pairs
    assert {
        "numpy vs onnxruntime (fp32)",
        "numpy vs onnxruntime (fp16)",
        "numpy vs onnxruntime (int8)",
    } <= pairs
    assert read_manifest(st_bundle).parity["passed"] is True


def test_sliced_bundle_equals_truncated_full_model(tmp_path, st_wordpiece):
    """Sliced bundle equals truncated full model."""
    from sentence_transformers import SentenceTransformer

    full = SentenceTransformer(str(st_wordpiece), device="cpu").encode(PARITY_TEXTS)
    bundle = export(st_wordpiece, tmp_path / "b32", ExportOptions(dims=32))
    sliced = load(bundle).encode(PARITY_TEXTS)
    np.testing.assert_allclose(sliced, full[:, :32], atol=1e-5)


def test_sentence_transformers_3x_layout_float16_with_normalize(tmp_path, st3_fp16):
    """Sentence transformers 3x layout float16 with normalize."""
    source = read_source(st3_fp16)
    assert source.kind == "sentence-transformers" and source.normalize and source.table.dtype == np.float16
    bundle = export(st3_fp16, tmp_path / "b", ExportOptions(dims=64, int8=True))
    assert read_manifest(bundle).normalize is True
    vectors = load(bundle, variant="fp32").encode(PARITY_TEXTS)
    norms = np.linalg.norm(vectors, axis=1)
    no_tokens = [i for i, t in enumerate(PARITY_TEXTS) if not t.strip()]  # "" and "   "
    np.testing.assert_allclose(np.delete(norms, no_tokens), 1.0, atol=1e-6)
    assert not norms[no_tokens].any()
    report = check_bundle(bundle)
    assert report.passed, [r.to_dict() for r in report.failures()]
    assert any("float32 mean of the source table" in r.pair for r in report.rows)
    assert any("float16 source" in r.pair and r.metric == "min cosine" for r in report.rows)


def test_unigram_tokenizer_model(tmp_path, st_unigram):
    """Unigram tokenizer model."""
    bundle = export(st_unigram, tmp_path / "b", ExportOptions(int8=True, fp16=True))
    report = check_bundle(bundle)
    assert report.passed, [r.to_dict() for r in report.failures()]


def test_model2vec_semantics_unknown_dropped_and_512_truncation(tmp_path, m2v_model):
    """Model2vec semantics unknown dropped and 512 truncation."""
    from model2vec import StaticModel

    bundle = export(m2v_model, tmp_path / "b", ExportOptions(int8=True))
    manifest = read_manifest(bundle)
    assert manifest.mask_unknown and manifest.max_length == 512 and manifest.normalize
    assert json.loads((bundle / "tokenizer.json").read_text())["truncation"]["max_length"] == 512
    model = load(bundle, variant="fp32")
    vectors = model.encode(PARITY_TEXTS)
    # Text made only of unknown characters: model2vec drops [UNK], so nothing is left to average.
    assert not vectors[PARITY_TEXTS.index("𓀀𓀁𓀂 𓀃𓀄")].any()
    long_text = PARITY_TEXTS[18]
    assert len(model.tokenizer.encode([long_text])[0]) == 512
    own = StaticModel.from_pretrained(str(m2v_model)).encode(PARITY_TEXTS)
    np.testing.assert_allclose(vectors, own, atol=1e-5)
    report = check_bundle(bundle)
    assert report.passed, [r.to_dict() for r in report.failures()]


def test_model2vec_vocabulary_quantized(tmp_path, m2v_vocab_quantized):
    """Model2vec vocabulary quantized."""
    from model2vec import StaticModel

    bundle = export(m2v_vocab_quantized, tmp_path / "b", ExportOptions(int8=True))
    own = StaticModel.from_pretrained(str(m2v_vocab_quantized)).encode(PARITY_TEXTS)
    np.testing.assert_allclose(load(bundle, variant="fp32").encode(PARITY_TEXTS), own, atol=1e-5)
    assert check_bundle(bundle).passed


def test_normalize_flag_overrides_source(tmp_path, st_wordpiece):
    """Normalize flag overrides source."""
    bundle = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=16, normalize=True))
    vectors = load(bundle).encode(["hello world", "the cat"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert check_bundle(bundle).passed
