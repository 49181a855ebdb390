"""`check` scans every variant's whole table (exporter/table_scan.py): NaN or infinity in any row, and the int8
row that strays furthest from fp32, not only the rows its parity texts touch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from tokenizers import Tokenizer

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.exporter.check import check_bundle
from static_edge.exporter.graph import build_graph
from static_edge.runtimes.bundle import MANIFEST_FILE, VARIANT_FILES, file_entry, read_manifest
from static_edge.runtimes.numpy_embedder import read_initializers


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
    """A fresh 32-dim export with fp16 and int8 tables, for a test to edit."""
    return export(st_wordpiece, tmp_path / "b", ExportOptions(dims=32, fp16=True, int8=True))


def test_check_reports_every_table_clean_and_the_worst_int8_row(bundle, capsys):
    """Check reports every table clean and the worst int8 row."""
    assert main(["check", str(bundle)]) == 0
    rows = {row["pair"]: row for row in read_manifest(bundle).parity["rows"]}
    for variant in ("fp32", "fp16", "int8"):
        assert rows[f"{variant} table (every row)"]["value"] == 0
    (worst,) = [row for pair, row in rows.items() if pair.startswith("int8 table vs fp32 table (worst row")]
    # per-row absmax int8 loses at most half a step per value: sqrt(dims) / 254 relative to the row
    assert 0 < worst["value"] <= np.sqrt(32) / 254 and worst["passed"]
    assert re.search(r"worst row \d+, token '.+'\)", worst["pair"])


def test_check_finds_nan_in_a_row_no_parity_text_uses(bundle, capsys):
    """Check finds NaN in a row no parity text uses."""
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
    """Check names an int8 row that no longer matches fp32."""

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
