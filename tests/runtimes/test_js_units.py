"""The browser runtime's own checks, run by pytest (and so by CI): its `node --test` unit tests
(tests/runtimes/js/*.test.mjs), both engines behind their one contract on real bundle files, its TypeScript
declarations (runtimes/web/types/, generated from the JSDoc by
`npm run build:types`, which must type-check and equal what is committed), and no block of six or more code
lines written twice in its JavaScript."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.variants import VARIANTS
from static_edge.runtimes.web_page import WEB_SOURCE, node_modules

JS_TESTS = Path(__file__).parent / "js"
TYPES = WEB_SOURCE / "types"
BLOCK = 6
COMMENT = re.compile(r"^(//|/\*|\*)")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return node


def test_node_unit_tests_pass():
    """Node unit tests pass."""
    result = subprocess.run(
        [_node(), "--test", str(JS_TESTS)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE).group(1))
    assert passed >= len(list(JS_TESTS.glob("*.test.mjs"))) * 3, result.stdout[-2000:]


@pytest.fixture(scope="module")
def every_variant(tmp_path_factory, st_wordpiece) -> Path:
    """A bundle holding every variant, with an odd width (a half-filled last byte for int4 and int2)."""
    options = ExportOptions(dims=33, extra_variants=VARIANTS)
    return export(st_wordpiece, tmp_path_factory.mktemp("engines") / "bundle", options)


@pytest.mark.slow  # end to end: Node runs both engines on every variant's bundle
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_both_engines_keep_one_contract_and_give_pythons_vectors(every_variant, variant):
    """LiteEngine and OrtEngine (onnxruntime-web's Node build) are created, embed and are disposed the same way,
    and give the Python runtime's vectors for the same token ids."""
    try:
        node_modules(("onnxruntime-web/package.json",))
    except FileNotFoundError as err:
        pytest.skip(str(err))
    python = load(every_variant, variant=variant)
    texts = [t for t in PARITY_TEXTS if t]
    ids = python.tokenizer.encode(texts)
    result = subprocess.run(
        [_node(), str(JS_TESTS / "engines-agree.mjs"), str(every_variant), variant, json.dumps(ids)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    engines = json.loads(result.stdout)
    expected = python.encode(texts)
    for name in ("LiteEngine", "OrtEngine"):
        assert engines[name]["isFloat32Array"], name
        vectors = np.array(engines[name]["vectors"], dtype=np.float32).reshape(expected.shape)
        assert np.abs(vectors - expected).max() <= 1e-5, name


@pytest.mark.slow  # end to end: tsc over the whole runtime
def test_declarations_type_check_and_equal_the_committed_ones(tmp_path):
    """`tsc -p tsconfig.json` (strict, checkJs) reports nothing, and writes exactly the committed types/."""
    try:
        tsc = node_modules(("typescript/bin/tsc",)) / "typescript" / "bin" / "tsc"
    except FileNotFoundError as err:
        pytest.skip(str(err))
    out = tmp_path / "types"
    result = subprocess.run(
        [_node(), str(tsc), "-p", str(WEB_SOURCE / "tsconfig.json"), "--declarationDir", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    generated = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.d.ts"))
    committed = sorted(p.relative_to(TYPES).as_posix() for p in TYPES.rglob("*.d.ts"))
    assert generated == committed, "run `npm run build:types` in runtimes/web and commit types/"
    _, mismatch, errors = filecmp.cmpfiles(out, TYPES, generated, shallow=False)
    assert not mismatch and not errors, f"{mismatch + errors} differ: run `npm run build:types` in runtimes/web"


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the lines that are code: no blank lines, no comments."""
    lines = ((n, line.strip()) for n, line in enumerate(path.read_text().splitlines(), start=1))
    return [(n, text) for n, text in lines if text and not COMMENT.match(text)]


def test_no_block_of_six_code_lines_is_written_twice():
    """The runtime's modules and their tests share code by importing it, never by a copy."""
    sources = sorted(WEB_SOURCE.glob("*.js")) + sorted(JS_TESTS.glob("*.mjs"))
    places: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in sources:
        lines = _code_lines(path)
        for start in range(len(lines) - BLOCK + 1):
            block = tuple(text for _, text in lines[start : start + BLOCK])
            places[block].append(f"{path.name}:{lines[start][0]}")
    repeated = {block[0]: where for block, where in places.items() if len(where) > 1}
    assert not repeated, repeated
