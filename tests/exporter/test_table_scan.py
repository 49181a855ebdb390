"""Issue 9, class 2: a table that is not floating point or holds NaN/inf never becomes a bundle, and `check`
scans every variant's whole table (and the worst int8 row), not only the rows its texts touch."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from static_edge.cli import main
from static_edge.exporter import ExportOptions, SourceModelError, export
from static_edge.exporter.check import check_bundle
from static_edge.exporter.graph import build_graph
from static_edge.runtimes.bundle import MANIFEST_FILE, VARIANT_FILES, file_entry, read_manifest
from static_edge.runtimes.numpy_embedder import read_initializers


def _with_table(model: Path, folder: Path, edit) -> tuple[Path, Tokenizer]:
    """A copy of a Sentence Transformers model whose table is `edit(table)`."""
    copy = shutil.copytree(model, folder)
    weights = copy / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["embedding.weight"] = edit(tensors["embedding.weight"].copy())
    save_file(tensors, str(weights))
    return copy, Tokenizer.from_file(str(copy / "tokenizer.json"))


def _set(row: int, value: float):
    def edit(table: np.ndarray) -> np.ndarray:
        table[row, 5] = value
        return table

    return edit


@pytest.mark.parametrize(("value", "row"), [(np.nan, 17), (np.inf, 400), (-np.inf, 3)])
def test_export_refuses_a_non_finite_row_naming_it_and_its_token(st_wordpiece, tmp_path, value, row):
    model, tokenizer = _with_table(st_wordpiece, tmp_path / "model", _set(row, value))
    token = tokenizer.id_to_token(row)
    with pytest.raises(SourceModelError, match=re.escape(f"row {row} of the embedding table (token {token!r})")):
        export(model, tmp_path / "out", ExportOptions(int8=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_export_refuses_a_float64_value_beyond_float32(st_wordpiece, tmp_path, capsys):
    model, _ = _with_table(st_wordpiece, tmp_path / "model", lambda t: _set(9, 1e300)(t.astype(np.float64)))
    assert main(["export", str(model), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "row 9 of the embedding table" in err and "beyond float32's range" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.bool_, np.uint8])
def test_export_refuses_a_table_that_is_not_floating_point(st_wordpiece, tmp_path, dtype):
    model, _ = _with_table(st_wordpiece, tmp_path / "model", lambda t: (t * 100).astype(dtype))
    with pytest.raises(SourceModelError, match="not floating point"):
        export(model, tmp_path / "out")


def test_export_refuses_a_non_finite_model2vec_table(m2v_model, tmp_path):
    model = shutil.copytree(m2v_model, tmp_path / "m2v")
    tensors = load_file(str(model / "model.safetensors"))
    tensors["embeddings"][11, 0] = np.nan
    save_file(tensors, str(model / "model.safetensors"))
    with pytest.raises(SourceModelError, match="row 11 of the embedding table"):
        export(model, tmp_path / "out")


def _tamper_table(bundle: Path, variant: str, edit) -> None:
    """Rewrite one variant's table (and its hash in the manifest), as someone editing the bundle would."""
    path = bundle / VARIANT_FILES[variant]
    arrays = read_initializers(
        path, ("embedding_table", "embedding_row_scales") if variant == "int8" else ("embedding_table",)
    )
    table, scales = edit(arrays["embedding_table"].copy(), arrays.get("embedding_row_scales"))
    manifest = read_manifest(bundle)
    onnx.save_model(build_graph(table, scales, normalize=manifest.normalize), str(path))
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data["files"][VARIANT_FILES[variant]] = file_entry(path, data["files"][VARIANT_FILES[variant]]["dtype"])
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))


@pytest.fixture
def bundle(st_wordpiece, tmp_path) -> Path:
    return export(st_wordpiece, tmp_path / "b", ExportOptions(dims=32, fp16=True, int8=True))


def test_check_reports_every_table_clean_and_the_worst_int8_row(bundle, capsys):
    assert main(["check", str(bundle)]) == 0
    rows = {row["pair"]: row for row in read_manifest(bundle).parity["rows"]}
    for variant in ("fp32", "fp16", "int8"):
        assert rows[f"{variant} table (every row)"]["value"] == 0
    (worst,) = [row for pair, row in rows.items() if pair.startswith("int8 table vs fp32 table (worst row")]
    # per-row absmax int8 loses at most half a step per value: sqrt(dims) / 254 relative to the row
    assert 0 < worst["value"] <= np.sqrt(32) / 254 and worst["passed"]
    assert re.search(r"worst row \d+, token '.+'\)", worst["pair"])


def test_check_finds_nan_in_a_row_no_parity_text_uses(bundle, capsys):
    tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    used = {i for e in tokenizer.encode_batch(["hello world"] * 2) for i in e.ids}
    row = max(set(range(tokenizer.get_vocab_size())) - used)

    def poison(table, scales):
        table[row, 0] = np.float16(np.inf)
        return table, scales

    _tamper_table(bundle, "fp16", poison)
    assert main(["check", str(bundle)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "FAIL" in out and "the runtimes refuse to load a table with NaN or infinity" in out
    parity = read_manifest(bundle).parity
    rows = {row["pair"]: (row["value"], row["passed"]) for row in parity["rows"]}
    assert rows["fp16 table (every row)"] == (1, False) and rows["fp32 table (every row)"] == (0, True)
    assert parity["passed"] is False


def test_check_names_an_int8_row_that_no_longer_matches_fp32(bundle):
    def rescale(table, scales):
        scales = scales.copy()
        scales[123] *= 3
        return table, scales

    _tamper_table(bundle, "int8", rescale)
    report = check_bundle(bundle, write=False)
    (worst,) = [row for row in report.rows if row.pair.startswith("int8 table vs fp32 table")]
    token = Tokenizer.from_file(str(bundle / "tokenizer.json")).id_to_token(123)
    assert f"worst row 123, token {token!r}" in worst.pair
    assert worst.value == pytest.approx(2.0, rel=0.05) and not worst.passed and not report.passed
