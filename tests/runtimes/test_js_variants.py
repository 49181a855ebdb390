"""The browser runtime's variant record (runtimes/web/variants.js) is the text generated from Python's
`static_edge.runtimes.variants.VARIANTS`, and Node reads the same rows from it: a row changed without running
`python -m static_edge.runtimes.generate_variants` fails here."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import pytest

from static_edge.runtimes.generate_variants import JS_FILE, main, variants_js
from static_edge.runtimes.variants import VARIANTS
from static_edge.runtimes.web_page import WEB_SOURCE

SHARED_FIELDS = {
    "name": "name",
    "file": "file",
    "dtype": "dtype",
    "onnx_type": "onnxType",
    "bits": "bits",
    "scaled": "scaled",
    "transformers_js_dtype": "transformersJsDtype",
    "field_offset": "fieldOffset",
    "code_limit": "codeLimit",
}
PRINT_RECORD = """
const { VARIANTS, VARIANT_FILES } = await import(process.argv[1]);
process.stdout.write(JSON.stringify({ VARIANTS, VARIANT_FILES }));
"""


def test_committed_variants_js_is_the_generated_text():
    """variants.js is `variants_js()` byte for byte: edit the Python record and run the generator, not the copy."""
    assert JS_FILE == WEB_SOURCE / "variants.js"
    assert JS_FILE.read_text(encoding="utf-8") == variants_js(), "run: python -m static_edge.runtimes.generate_variants"


def test_generator_refuses_arguments(capsys):
    """The generator takes no arguments: one usage line, exit 2, nothing written."""
    assert main(["--check"]) == 2
    assert capsys.readouterr().err.startswith("usage: python -m static_edge.runtimes.generate_variants")


@pytest.fixture(scope="module")
def js_record() -> dict:
    """VARIANTS and VARIANT_FILES as variants.js exports them, read by Node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "--input-type=module", "-e", PRINT_RECORD, (WEB_SOURCE / "variants.js").as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_variants_js_has_the_python_rows_in_their_order(js_record):
    """Variants JS has the Python rows in their order."""
    python = [{js: getattr(v, py) for py, js in SHARED_FIELDS.items()} for v in VARIANTS.values()]
    assert list(js_record["VARIANTS"]) == list(VARIANTS)
    assert list(js_record["VARIANTS"].values()) == python


def test_every_shared_field_is_compared(js_record):
    """A field added to the Python record that the browser also needs shows up here, not as a silent gap."""
    python_only = {"cpu_rank", "summary", "mean_cosine", "min_cosine", "row_error"}
    assert {f.name for f in dataclasses.fields(next(iter(VARIANTS.values())))} == set(SHARED_FIELDS) | python_only
    assert set(js_record["VARIANTS"]["fp32"]) == set(SHARED_FIELDS.values())


def test_variant_files_derive_from_the_record(js_record):
    """Variant files derive from the record."""
    assert js_record["VARIANT_FILES"] == {name: v.file for name, v in VARIANTS.items()}
