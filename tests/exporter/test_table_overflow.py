"""Table values a variant cannot carry are refused, naming the row: at export (a value float16 cannot hold for
--fp16; a value whose text mean or L2 norm would overflow float32), at `check` (a bundle edited after export,
int row scales included) and when a runtime loads the bundle. The bound is docs/bundle-format.md#value-range."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from model_builders import rewrite_variant, set_row_scale, set_table_value
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.exporter.check import check_bundle
from static_edge.runtimes import BundleError, load
from static_edge.runtimes.bundle import VARIANT_FILES, read_manifest
from static_edge.runtimes.bundle_checks import CODE_PEAKS, FLOAT32_MAX, largest_safe_value
from static_edge.runtimes.numpy_embedder import read_initializers

DIMS = 16


def _model_with(st_wordpiece: Path, folder: Path, row: int, value: float) -> tuple[Path, str]:
    """A copy of the WordPiece model whose table holds `value` at [row, 3]; returns it and the row's token."""
    model = shutil.copytree(st_wordpiece, folder)
    tensors = load_file(str(model / "model.safetensors"))
    tensors["embedding.weight"][row, 3] = value
    save_file(tensors, str(model / "model.safetensors"))
    return model, Tokenizer.from_file(str(model / "tokenizer.json")).id_to_token(row)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_the_bound_keeps_the_sum_and_the_squared_norm_finite_in_float32():
    """The bound keeps the sum and the squared norm finite in float32."""
    for dims in (1, 16, 256, 4096):
        limit = np.float32(largest_safe_value(dims))
        assert np.isfinite(np.sum(np.square(np.full(dims, limit, dtype=np.float32)), dtype=np.float32))
        assert np.isfinite(np.float32(2**62) * limit), "a sum over 2^62 tokens stays finite"
        with np.errstate(over="ignore"):
            beyond = np.sum(np.square(np.full(dims, limit * 1.5, dtype=np.float32)), dtype=np.float32)
        assert not np.isfinite(beyond), "1.5 times the bound overflows the squared norm"
    assert largest_safe_value(1) == pytest.approx(np.sqrt(FLOAT32_MAX / 2))


@pytest.mark.parametrize("value", [7e4, -65520.0])
def test_fp16_export_refuses_a_value_float16_cannot_hold(st_wordpiece, tmp_path, capsys, value):
    """fp16 export refuses a value float16 cannot hold."""
    model, token = _model_with(st_wordpiece, tmp_path / "model", 17, value)
    assert main(["export", str(model), "-o", str(tmp_path / "out"), "--fp16", "--dims", str(DIMS)]) == 2
    err = _one_error_line(capsys)
    assert f"row 17 of the embedding table (token {token!r})" in err and "float16's largest value 65504" in err
    assert not (tmp_path / "out").exists()
    out = export(model, tmp_path / "no-fp16", ExportOptions(dims=DIMS, int8=True))  # fp32 holds it fine
    assert np.isfinite(load(out).encode(["hello world"])).all()


def test_fp16_keeps_the_largest_float16_value(st_wordpiece, tmp_path):
    """fp16 keeps the largest float16 value."""
    model, _ = _model_with(st_wordpiece, tmp_path / "model", 17, -65504.0)
    out = export(model, tmp_path / "out", ExportOptions(dims=DIMS, fp16=True))
    table = read_initializers(out / VARIANT_FILES["fp16"], ("embedding_table",))["embedding_table"]
    assert table[17, 3] == np.float16(-65504.0)


@pytest.mark.parametrize("value", [3e38, -1e20])
def test_export_refuses_values_whose_vectors_would_overflow_float32(st_wordpiece, tmp_path, capsys, value):
    """Export refuses values whose vectors would overflow float32."""
    model, token = _model_with(st_wordpiece, tmp_path / "model", 9, value)
    assert main(["export", str(model), "-o", str(tmp_path / "out"), "--dims", str(DIMS), "--int8"]) == 2
    err = _one_error_line(capsys)
    assert f"row 9 (token {token!r}) reaches {abs(value):.3g}" in err and "overflow float32" in err
    assert f"{largest_safe_value(DIMS):.3g}" in err and not (tmp_path / "out").exists()


def _model_with_row_at(st_wordpiece: Path, folder: Path, value: float) -> Path:
    """A copy of the WordPiece model whose row of "hello" is `value` in every one of the first DIMS columns."""
    model = shutil.copytree(st_wordpiece, folder)
    tensors = load_file(str(model / "model.safetensors"))
    row = Tokenizer.from_file(str(model / "tokenizer.json")).encode("hello", add_special_tokens=False).ids[0]
    tensors["embedding.weight"][row, :DIMS] = value
    save_file(tensors, str(model / "model.safetensors"))
    return model


def test_a_value_at_the_bound_exports_and_encodes_finite(st_wordpiece, tmp_path):
    """The bound is sound: a row at the bound, repeated in a long text, gives finite unit vectors in both runtimes."""
    model = _model_with_row_at(st_wordpiece, tmp_path / "model", float(np.float32(largest_safe_value(DIMS) * 0.999)))
    out = export(model, tmp_path / "out", ExportOptions(dims=DIMS, normalize=True))
    for backend in ("onnxruntime", "numpy"):
        vectors = load(out, backend=backend).encode(["hello " * 5000, "hello"])
        assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5), backend


@pytest.mark.parametrize(("variant", "code"), [("int8", 127), ("int2", 1)])
def test_a_quantized_variant_is_held_to_its_largest_possible_code(st_wordpiece, tmp_path, capsys, variant, code):
    """A loader cannot trust the codes (an edited int8 byte may be -128, an int2 field 2), so a quantized variant's
    bound is its row scale times that code: export refuses the variant that the runtimes would refuse."""
    limit = largest_safe_value(DIMS)
    model = _model_with_row_at(st_wordpiece, tmp_path / "model", float(np.float32(limit * 0.999)))
    args = ["export", str(model), "-o", str(tmp_path / "out"), "--dims", str(DIMS), f"--{variant}"]
    assert main(args) == 2
    assert f"the {variant} table's row" in _one_error_line(capsys) and not (tmp_path / "out").exists()
    safe = float(np.float32(limit * 0.999 * code / CODE_PEAKS[variant]))
    model = _model_with_row_at(st_wordpiece, tmp_path / "model-safe", safe)
    out = export(model, tmp_path / "out", ExportOptions(dims=DIMS, normalize=True, **{variant: True}))
    vectors = load(out, variant=variant).encode(["hello " * 5000])
    assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors), 1, atol=1e-5)


@pytest.fixture
def bundle(st_wordpiece, tmp_path) -> Path:
    """A fresh normalized export with every packed table, for a test to edit."""
    options = ExportOptions(dims=DIMS, int8=True, int4=True, int2=True, normalize=True)
    return export(st_wordpiece, tmp_path / "b", options)


@pytest.mark.parametrize(
    ("variant", "edit", "row"),
    [
        ("fp32", set_table_value(40, 1e20), 40),
        ("int8", set_row_scale(41, 3e36), 41),  # 127 x 3e36 is finite, but the text's norm is not
        ("int4", set_row_scale(42, 1e19), 42),
        ("int2", set_row_scale(43, 2e18), 43),
    ],
)
def test_check_and_load_refuse_an_edited_table_that_overflows(bundle, capsys, variant, edit, row):
    """Check and load refuse an edited table that overflows."""
    rewrite_variant(bundle, variant, edit)
    names = ("embedding_table",) if variant == "fp32" else ("embedding_table", "embedding_row_scales")
    value = read_initializers(bundle / VARIANT_FILES[variant], names)
    decoded = (
        abs(float(value["embedding_table"][row, 0]))
        if variant == "fp32"
        else abs(float(value["embedding_row_scales"][row])) * CODE_PEAKS[variant]
    )
    assert main(["check", str(bundle)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "FAIL" in out and "the runtimes refuse to load a table with a value beyond the float32-safe bound" in out
    rows = [r for r in read_manifest(bundle).parity["rows"] if r["pair"].startswith(f"{variant} table (largest")]
    assert len(rows) == 1 and f"row {row}," in rows[0]["pair"] and not rows[0]["passed"]
    assert rows[0]["value"] == pytest.approx(decoded, rel=1e-6)
    for backend in ("onnxruntime", "numpy"):
        with pytest.raises(BundleError, match=rf"the {variant} table's row {row} reaches .* overflow float32"):
            load(bundle, variant=variant, backend=backend)
    assert main(["encode", str(bundle), "hello", "--variant", variant]) == 2
    assert "overflow float32" in _one_error_line(capsys)


def test_check_reports_the_largest_value_of_a_clean_bundle(bundle):
    """Check reports the largest value of a clean bundle."""
    report = check_bundle(bundle, write=False)
    rows = [r for r in report.rows if r.metric == "largest magnitude (float32-safe bound)"]
    assert {r.pair.split(" ")[0] for r in rows} == {"fp32", "int8", "int4", "int2"} and report.passed
    for r in rows:
        assert 0 < r.value < 10 and r.tolerance == largest_safe_value(DIMS)
        assert re.search(r"\(largest value: row \d+, token '.+'\)", r.pair)


def test_the_overflow_the_bound_prevents_is_real(bundle):
    """Without the bound: a finite float32 value of 1e20 overflows the L2 norm in onnxruntime (no unit vector)."""
    rewrite_variant(bundle, "fp32", set_table_value(41, 1e20))
    session = ort.InferenceSession(str(bundle / VARIANT_FILES["fp32"]), providers=["CPUExecutionProvider"])
    ids = np.array([[41, 41]], dtype=np.int64)
    (vector,) = session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
    assert not np.isfinite(vector).all() or not np.isclose(np.linalg.norm(vector), 1.0)
