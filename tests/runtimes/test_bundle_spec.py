"""docs/bundle-format.md pinned to the code: a runtime written from the document alone gives load()'s vectors.

`SpecReference` below follows the document's Tokenization and Encoding sections (numpy, the `tokenizers`
library and the `onnx` protobuf reader; no static_edge code). If the exporter or the runtimes change what
a bundle means without the document changing, these tests fail.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from tokenizers import Tokenizer

from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "bundle-format.md"
# The document's file names, written out here on purpose (not imported from runtimes.bundle).
VARIANT_PATHS = {
    "fp32": "onnx/model.onnx",
    "fp16": "onnx/model_fp16.onnx",
    "int8": "onnx/model_quantized.onnx",
    "int4": "onnx/model_q4.onnx",
    "int2": "onnx/model_q2.onnx",
}
PACKED = {"int4": 2, "int2": 4}
"""Values per byte of the packed variants."""


def _initializers(path: Path) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in onnx.load(str(path)).graph.initializer}


def _unpack(packed: np.ndarray, variant: str, dims: int) -> np.ndarray:
    """The document's int4 / int2 layouts: value j of byte k sits at bits (8 / per_byte) * j, stored + offset."""
    per_byte = PACKED[variant]
    bits = 8 // per_byte
    offset = 8 if variant == "int4" else 1
    fields = [((packed >> (bits * j)) & ((1 << bits) - 1)).astype(np.int8) - offset for j in range(per_byte)]
    return np.stack(fields, axis=-1).reshape(packed.shape[0], -1)[:, :dims]


class SpecReference:
    """The document's Encoding section, line by line, one text at a time, accumulated in float64."""

    def __init__(self, bundle: Path, variant: str, honour_unknown_rule: bool = True):
        self.manifest = json.loads((bundle / "static_edge.json").read_text(encoding="utf-8"))
        path = VARIANT_PATHS[variant]
        for name in ("tokenizer.json", path):  # Integrity: size and sha256 of what is read
            data = (bundle / name).read_bytes()
            entry = self.manifest["files"][name]
            assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])
        self.tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
        inits = _initializers(bundle / path)
        table = inits["embedding_table"]
        if variant in PACKED:
            table = _unpack(table, variant, self.manifest["dims"])
        scales = inits.get("embedding_row_scales")
        self.row = (lambda t: table[t].astype(np.float32)) if scales is None else (lambda t: table[t] * scales[t])
        self.drop_unknown = honour_unknown_rule and self.manifest.get("mask_unknown", False)

    def counted_ids(self, text: str) -> list[int]:
        """The ids the spec averages for `text`: truncated, unknown ids dropped where the manifest says."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if self.manifest.get("max_length") is not None:
            ids = ids[: self.manifest["max_length"]]
        if self.drop_unknown:
            ids = [t for t in ids if t != self.manifest["unk_token_id"]]
        return ids

    def encode(self, texts: list[str]) -> np.ndarray:
        """Each text's vector computed from the spec alone (float64 mean of decoded rows)."""
        out = np.zeros((len(texts), self.manifest["dims"]))
        for k, text in enumerate(texts):
            ids = self.counted_ids(text)
            if ids:
                out[k] = np.sum([self.row(t) for t in ids], axis=0, dtype=np.float64) / len(ids)
        if self.manifest["normalize"]:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)


@pytest.fixture(scope="module")
def st_spec_bundle(tmp_path_factory, st_wordpiece) -> Path:
    """A Sentence Transformers source sliced to an odd 127 dims (the packed formats' padding); every variant."""
    from static_edge.exporter import ExportOptions, export

    options = ExportOptions(dims=127, int8=True, fp16=True, int4=True, int2=True)
    return export(st_wordpiece, tmp_path_factory.mktemp("spec") / "st", options)


@pytest.fixture(params=["st_spec_bundle", "m2v_bundle"])
def bundle(request) -> Path:
    """Each bundle kind the spec covers (Sentence Transformers and model2vec sources)."""
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("variant", list(VARIANT_PATHS))
@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_reference_from_the_document_matches_load(bundle, variant, backend):
    """Within the numpy-runtime tolerance (1e-6) on every parity text, every variant, both backends."""
    expected = SpecReference(bundle, variant).encode(PARITY_TEXTS)
    got = load(bundle, variant=variant, backend=backend).encode(PARITY_TEXTS)
    assert got.shape == expected.shape
    assert np.abs(got.astype(np.float64) - expected).max() <= 1e-6


def test_the_unknown_rule_is_exercised(m2v_bundle, st_spec_bundle):
    """The parity texts hold unknown tokens: ignoring mask_unknown would give other vectors, and a text of
    only unknown characters gives the zero vector under the rule but not without it."""
    manifest = json.loads((m2v_bundle / "static_edge.json").read_text())
    assert manifest["mask_unknown"] is True and manifest["max_length"] == 512
    careless = SpecReference(m2v_bundle, "fp32", honour_unknown_rule=False).encode(PARITY_TEXTS)
    got = load(m2v_bundle, variant="fp32").encode(PARITY_TEXTS)
    assert np.abs(got - careless).max() > 1e-3
    unknown_only = PARITY_TEXTS.index("𓀀𓀁𓀂 𓀃𓀄")
    assert not got[unknown_only].any()
    assert load(st_spec_bundle, variant="fp32").encode([PARITY_TEXTS[unknown_only]]).any()  # kept by ST sources


def test_empty_text_is_the_zero_vector(bundle):
    """Empty text is the zero vector."""
    for variant in ("fp32", "int8"):
        assert not load(bundle, variant=variant).encode(["", "   "]).any()


def test_quantization_formats_are_the_documented_ones(bundle):
    """fp16 and int8 tables recomputed from the fp32 table with the document's formulas, bit for bit."""
    table = _initializers(bundle / VARIANT_PATHS["fp32"])["embedding_table"]
    assert table.dtype == np.float32
    fp16 = _initializers(bundle / VARIANT_PATHS["fp16"])["embedding_table"]
    np.testing.assert_array_equal(fp16, np.clip(table, -65504, 65504).astype(np.float16))
    int8 = _initializers(bundle / VARIANT_PATHS["int8"])
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / 127, 1.0).astype(np.float32)
    np.testing.assert_array_equal(int8["embedding_row_scales"], scales)
    quantized = np.clip(np.round(table / scales[:, None]), -127, 127).astype(np.int8)
    np.testing.assert_array_equal(int8["embedding_table"], quantized)


def test_packed_formats_are_the_documented_ones(bundle):
    """int4 and int2 tables recomputed from the fp32 table with the document's formulas, value for value."""
    table = _initializers(bundle / VARIANT_PATHS["fp32"])["embedding_table"]
    dims = table.shape[1]
    int4 = _initializers(bundle / VARIANT_PATHS["int4"])
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / 7, 1.0).astype(np.float32)
    np.testing.assert_array_equal(int4["embedding_row_scales"], scales)
    expected = np.clip(np.round(table / scales[:, None]), -7, 7)
    np.testing.assert_array_equal(_unpack(int4["embedding_table"], "int4", dims), expected)
    assert int4["embedding_table"].shape == (table.shape[0], -(-dims // 2))

    int2 = _initializers(bundle / VARIANT_PATHS["int2"])
    magnitude = np.abs(table)
    signs = np.where(magnitude > 0.5 * magnitude.mean(axis=1, keepdims=True), np.sign(table), 0)
    kept = signs != 0
    means = (magnitude * kept).sum(axis=1) / np.maximum(kept.sum(axis=1), 1)
    np.testing.assert_array_equal(_unpack(int2["embedding_table"], "int2", dims), signs)
    np.testing.assert_allclose(int2["embedding_row_scales"], np.where(kept.any(axis=1), means, 1.0), rtol=1e-6)
    assert int2["embedding_table"].shape == (table.shape[0], -(-dims // 4))
    for variant in PACKED:  # padding fields past dims decode to zero
        padded = _unpack(_initializers(bundle / VARIANT_PATHS[variant])["embedding_table"], variant, 10**9)
        assert not padded[:, dims:].any()


def _described(values) -> list[tuple[str, int, list[str | int]]]:
    """(name, element type, shape with symbolic dims by name) of graph inputs or outputs."""
    return [
        (v.name, v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
        for v in values
    ]


def test_graph_interface_is_the_documented_one(bundle):
    """Graph interface is the documented one."""
    manifest = json.loads((bundle / "static_edge.json").read_text())
    float32, int64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    for variant, path in VARIANT_PATHS.items():
        model = onnx.load(str(bundle / path))
        assert model.ir_version == 8
        assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
        assert not model.graph.node or {n.domain for n in model.graph.node} == {""}
        assert not {n.op_type for n in model.graph.node} & {"Loop", "Scan", "If", "SequenceConstruct"}

        assert _described(model.graph.input) == [
            ("input_ids", int64, ["batch", "sequence"]),
            ("attention_mask", int64, ["batch", "sequence"]),
        ]
        assert _described(model.graph.output) == [
            ("token_embeddings", float32, ["batch", "sequence", manifest["dims"]]),
            ("sentence_embedding", float32, ["batch", manifest["dims"]]),
        ]
        inits = _initializers(bundle / path)
        columns = -(-manifest["dims"] // PACKED.get(variant, 1))
        assert inits["embedding_table"].shape == (manifest["vocab_size"], columns)
        dtype = "uint8" if variant in PACKED else manifest["files"][path]["dtype"]
        assert manifest["files"][path]["dtype"] == {"fp32": "float32", "fp16": "float16"}.get(variant, variant)
        assert str(inits["embedding_table"].dtype) == dtype
        assert ("embedding_row_scales" in inits) == (variant in ("int8", *PACKED))
        assert ("unk_token_id" in inits) == manifest["mask_unknown"]
        if manifest["mask_unknown"]:
            assert int(inits["unk_token_id"]) == manifest["unk_token_id"]


def test_every_manifest_key_and_file_is_documented(bundle):
    """The manifest table and the files table of the document name every key and file the exporter writes."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Manifest", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    manifest = json.loads((bundle / "static_edge.json").read_text())
    assert set(manifest) <= documented, set(manifest) - documented
    files_section = text.split("## Files", 1)[1].split("\n## ", 1)[0]
    documented_files = set(re.findall(r"^\| `([\w./]+)` \|", files_section, flags=re.MULTILINE))
    assert set(manifest["files"]) | {"static_edge.json"} <= documented_files
    tokenizer = json.loads((bundle / "tokenizer.json").read_text())
    assert tokenizer["post_processor"] is None and tokenizer["padding"] is None
    truncation = tokenizer["truncation"]
    assert (truncation or {}).get("max_length") == manifest["max_length"]


def test_bundle_digest_is_the_documented_canonical_json(bundle):
    """The Pinning section's recipe: sha256 of the sorted, compact, UTF-8 JSON of the manifest minus the reports."""
    from static_edge.runtimes.bundle import bundle_digest

    manifest = json.loads((bundle / "static_edge.json").read_text(encoding="utf-8"))
    pinned = {k: v for k, v in manifest.items() if k not in ("parity", "quality")}
    text = json.dumps(pinned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert bundle_digest(bundle) == hashlib.sha256(text.encode("utf-8")).hexdigest()
