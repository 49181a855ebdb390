"""The Variant record is complete: every row has a quantizer, an unpacker, a file the exporter writes, the runtimes
load and `check` passes, the spec's variants table is generated from it, and no code outside the record spells a
variant's name."""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from static_edge.exporter import ExportOptions, check_bundle, export
from static_edge.exporter.bundle_export import ExportError
from static_edge.exporter.cli import add_export_arguments
from static_edge.exporter.quantization import QUANTIZERS
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.bundle import CPU_VARIANT_ORDER, resolve_variant
from static_edge.runtimes.bundle_checks import read_graph_facts
from static_edge.runtimes.generate_variants import SPEC_FILE, SPEC_MARKERS, spec_table, spec_with_table
from static_edge.runtimes.packed_table import pack_bits, packed_width, unpack_bits
from static_edge.runtimes.variants import REFERENCE, VARIANTS

REPO = Path(__file__).resolve().parents[2]
RECORD_FILES = {"runtimes/variants.py", "exporter/quantization.py"}
"""Where a variant's name may be spelled: the record and the quantizer map."""
PRECISION_FILES = {
    "runtimes/cli.py",
    "runtimes/vector_precisions.py",
    "runtimes/web_corpus.py",
}
"""Files where "int8" names a precision of encoded vectors (`--precision int8`), not a table variant."""


@pytest.fixture(scope="module")
def every_variant_bundle(tmp_path_factory, st_wordpiece) -> Path:
    """A 64-dim export holding every variant of the record."""
    options = ExportOptions(dims=64, extra_variants=tuple(VARIANTS))
    return export(st_wordpiece, tmp_path_factory.mktemp("variants") / "b", options)


def test_quantizer_map_has_exactly_the_record_rows():
    """Quantizer map has exactly the record rows."""
    assert list(QUANTIZERS) == list(VARIANTS)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_quantizer_writes_the_recorded_table_type(name):
    """Quantizer writes the recorded table type."""
    record = VARIANTS[name]
    table = np.random.default_rng(0).normal(size=(11, 9)).astype(np.float32)
    values, scales = QUANTIZERS[name](table)
    assert onnx.helper.np_dtype_to_tensor_dtype(values.dtype) == record.onnx_type
    assert (scales is not None) == record.scaled
    assert values.shape == (11, packed_width(9, record.bits) if record.packed else 9)
    if scales is not None:
        assert scales.dtype == np.float32 and scales.shape == (11,)


@pytest.mark.parametrize("name", [v.name for v in VARIANTS.values() if v.packed])
def test_packed_variant_has_an_unpacker_whose_codes_reach_its_peak(name):
    """Packed variant has an unpacker whose codes reach its peak."""
    record = VARIANTS[name]
    every_byte = np.arange(256, dtype=np.uint8)[:, None]
    codes = unpack_bits(every_byte, 8 // record.bits, record.bits)
    assert int(np.abs(codes.astype(np.int64)).max()) == record.code_peak
    assert unpack_bits(np.full((1, 1), record.field_offset, dtype=np.uint8), 1, record.bits)[0, 0] == 0
    limit = record.code_limit
    values = np.random.default_rng(1).integers(-limit, limit + 1, size=(5, 13))
    np.testing.assert_array_equal(unpack_bits(pack_bits(values, record.bits), 13, record.bits), values)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_is_exported_recorded_and_loaded_by_both_runtimes(every_variant_bundle, name):
    """Every variant is exported recorded and loaded by both runtimes."""
    record = VARIANTS[name]
    manifest = read_manifest(every_variant_bundle)
    assert manifest.variants == list(VARIANTS)
    assert manifest.files[record.file]["dtype"] == record.dtype
    facts = read_graph_facts(every_variant_bundle / record.file)
    assert facts.element_type == record.onnx_type
    assert facts.columns == (packed_width(64, record.bits) if record.packed else 64)
    ort = load(every_variant_bundle, variant=name).encode(["a record per variant"])
    numpy = load(every_variant_bundle, variant=name, backend="numpy").encode(["a record per variant"])
    np.testing.assert_allclose(numpy, ort, atol=1e-5)


def test_check_passes_with_the_recorded_tolerance_rows(every_variant_bundle):
    """Check passes with the recorded tolerance rows."""
    report = check_bundle(every_variant_bundle, write=False)
    assert report.passed, [r.to_dict() for r in report.failures()]
    for record in VARIANTS.values():
        rows = {r.metric: r.tolerance for r in report.rows if r.pair == f"{record.name} vs {REFERENCE.name}"}
        expected = {"mean cosine": record.mean_cosine, "min cosine": record.min_cosine}
        assert rows == {metric: tol for metric, tol in expected.items() if tol is not None}
        assert any(r.pair == f"numpy vs onnxruntime ({record.name})" for r in report.rows)
        row_error = [r for r in report.rows if r.pair.startswith(f"{record.name} table vs {REFERENCE.name} table")]
        assert [r.tolerance for r in row_error] == ([record.row_error] if record.row_error is not None else [])


def test_defaults_follow_the_record(every_variant_bundle):
    """Defaults follow the record."""
    manifest = read_manifest(every_variant_bundle)
    loadable = [v for v in VARIANTS.values() if v.transformers_js_dtype is not None]
    assert manifest.default_variant == loadable[-1].name  # the smallest that transformers.js loads
    config = json.loads((every_variant_bundle / "config.json").read_text())
    assert config["transformers.js_config"]["dtype"] == loadable[-1].transformers_js_dtype
    assert (
        resolve_variant(manifest, None) == CPU_VARIANT_ORDER[0] == min(VARIANTS.values(), key=lambda v: v.cpu_rank).name
    )


def test_export_flags_come_from_the_record():
    """Export flags come from the record."""
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    others = [v.name for v in VARIANTS.values() if v is not REFERENCE]
    args = parser.parse_args(["model", *(f"--{name}" for name in others)])
    assert all(getattr(args, name) for name in others)
    assert ExportOptions(**{others[-1]: True}).variants == [REFERENCE.name, others[-1]]
    with pytest.raises(TypeError, match="variant flags"):
        ExportOptions(int9=True)
    with pytest.raises(ExportError, match="unknown variants"):
        ExportOptions(extra_variants=["int9"])


def test_no_variant_name_is_spelled_outside_the_record():
    """No variant name is spelled outside the record."""
    found = []
    for folder in ("runtimes", "exporter"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative in RECORD_FILES:
                continue
            allowed = {"int8"} if relative in PRECISION_FILES else set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                value = getattr(node, "value", None) if isinstance(node, ast.Constant) else None
                if isinstance(value, str) and value in VARIANTS and value not in allowed:
                    found.append(f"{relative}:{node.lineno} {value!r}")
    assert not found, "variant names belong in runtimes/variants.py: " + ", ".join(found)


def test_the_spec_variants_table_is_the_generated_one():
    """docs/bundle-format.md's variants table (in #files) is `spec_table()`: run the generator after a row changes."""
    spec = SPEC_FILE.read_text(encoding="utf-8")
    assert spec_with_table(spec) == spec, "run: python -m static_edge.runtimes.generate_variants"
    files_section = spec.split("## Files", 1)[1].split("\n## ", 1)[0]
    assert spec_table() in files_section
    for record in VARIANTS.values():
        assert f"| `{record.file}` | `{record.name}` | {'yes' if record is REFERENCE else 'no'} |" in spec_table()
    with pytest.raises(ValueError, match="markers"):
        spec_with_table(spec.replace(SPEC_MARKERS[1], ""))


HYPOTHETICAL_INT3 = r"""
import json, shutil, subprocess, sys
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

record_file, model, out, web = (Path(arg) for arg in sys.argv[1:5])
# 1. the row, in runtimes/variants.py (loaded before anything imports the real file); a field stores code + 4
end_of_rows = "\n    )\n}  # fmt: skip"
row = '''
        Variant(
            "int3", "onnx/model_q3.onnx", "int3", 2, 3, True, None, 5, "packed 3-bit table", 0.9, 0.8, None, 4, 3,
        ),'''
source = record_file.read_text(encoding="utf-8")
assert source.count(end_of_rows) == 1
spec = spec_from_file_location("static_edge.runtimes.variants", record_file)
module = module_from_spec(spec)
sys.modules[spec.name] = module
exec(compile(source.replace(end_of_rows, row + end_of_rows), str(record_file), "exec"), module.__dict__)

import numpy as np
from static_edge.cli import main
from static_edge.exporter.quantization import QUANTIZERS
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.generate_variants import spec_table, variants_js
from static_edge.runtimes.packed_table import pack_bits
from static_edge.runtimes.web_page import WEB_SOURCE

# 2. its quantizer, in exporter/quantization.py
def quantize_rows_int3(table):
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / 3, 1.0).astype(np.float32)
    return pack_bits(np.clip(np.rint(table / scales[:, None]), -3, 3).astype(np.int8), 3), scales

QUANTIZERS["int3"] = quantize_rows_int3

# 3. the generator: variants.js (here into a copy of the browser runtime) and the spec's table
shutil.copytree(WEB_SOURCE, web, ignore=shutil.ignore_patterns("node_modules"))
(web / "variants.js").write_text(variants_js(), encoding="utf-8")

exported = main(["export", str(model), "--dims", "63", "--int3", "--int8", "-o", str(out)])
checked = main(["check", str(out)])
texts = ["three bits a value", "a row of sixty-three values"]
ort, numpy = (load(out, variant="int3", backend=b).encode(texts) for b in ("onnxruntime", "numpy"))
ids, lengths = load(out, variant="int3", backend="numpy").tokenize(texts)
id_rows = [part.tolist() for part in np.split(ids, np.cumsum(lengths)[:-1])]
lite = '''
const fs = await import("node:fs");
const [engineUrl, onnxFile, manifestFile, idRows] = process.argv.slice(1);
const { LiteEngine } = await import(engineUrl);
const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
const engine = await LiteEngine.create(new Uint8Array(fs.readFileSync(onnxFile)), manifest, "int3");
process.stdout.write(JSON.stringify(Array.from(await engine.embed(JSON.parse(idRows)))));
'''
node = [shutil.which("node"), "--input-type=module", "-e", lite, (web / "lite-engine.js").as_uri()]
node += [str(out / "onnx" / "model_q3.onnx"), str(out / "static_edge.json"), json.dumps(id_rows)]
browser = np.array(json.loads(subprocess.run(node, capture_output=True, text=True, check=True).stdout))
manifest = read_manifest(out)
rows = [r for r in manifest.parity["rows"] if "int3" in r["pair"]]
result = {"exported": exported, "checked": checked, "gap": float(np.abs(ort - numpy).max()), "rows": rows}
result["lite_gap"] = float(np.abs(browser.reshape(numpy.shape) - numpy).max())
result["spec_row"] = "| `onnx/model_q3.onnx` | `int3` | no | packed 3-bit table | none | >= 0.9; >= 0.8 |"
result["spec_row"] = result["spec_row"] in spec_table()
print(json.dumps({**result, "variants": manifest.variants, "default": manifest.default_variant}))
"""


@pytest.mark.slow  # end to end: exports, checks and runs a new variant in a child process
def test_a_new_variant_is_one_row_and_its_quantizer(tmp_path, st_wordpiece):
    """A hypothetical int3, added the way the record says (a row, a quantizer, the generator) and nothing else:
    the CLI exports it, both Python runtimes and the browser's lite engine load it and agree, `check` measures it
    at the row's tolerances, and the spec's generated table lists it."""
    import shutil
    import subprocess
    import sys

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    script = [sys.executable, "-c", HYPOTHETICAL_INT3, str(REPO / "runtimes" / "variants.py")]
    done = subprocess.run(
        [*script, str(st_wordpiece), str(tmp_path / "b"), str(tmp_path / "web")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["exported"] == 0 and result["checked"] == 0
    assert result["variants"] == [REFERENCE.name, "int8", "int3"] and result["default"] == "int8"
    assert result["gap"] < 1e-5 and result["lite_gap"] < 1e-5
    assert result["spec_row"]
    cosines = {(r["metric"], r["tolerance"]) for r in result["rows"] if r["pair"] == "int3 vs fp32"}
    assert cosines == {("mean cosine", 0.9), ("min cosine", 0.8)}
    assert all(r["passed"] for r in result["rows"])
