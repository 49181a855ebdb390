"""The onnxruntime-web engine and the search page in headless Chromium, and transformers.js (browser and Node).

Every request the page makes is checked: anything not addressed to 127.0.0.1 is blocked and fails
the test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser_pages import LocalOnlyPage, assert_node_matches_python, open_page, served
from browser_support import require_browser_tools

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.web_page import node_modules, write_web_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The runtime's own server on 127.0.0.1 over a folder of bundles; yields (root, base URL)."""
    require_browser_tools()
    root = tmp_path_factory.mktemp("site")
    with served(root) as base:
        yield root, base


@pytest.fixture(scope="module")
def web_bundles(site, st_wordpiece, st_unigram):
    """Per tokenizer type: a full bundle (fp32, int8, int4, int2) and a Matryoshka-sliced one, each with its page
    and onnxruntime-web vendored (`ort=True`)."""
    root, _ = site
    made = {}
    for name, model, sliced_dims in (("wordpiece", st_wordpiece, 32), ("unigram", st_unigram, 16)):
        made[(name, "full")] = export(model, root / f"{name}-full", ExportOptions(int8=True, int4=True, int2=True))
        made[(name, "sliced")] = export(model, root / f"{name}-sliced", ExportOptions(dims=sliced_dims, int8=True))
        for key in ((name, "full"), (name, "sliced")):
            write_web_page(made[key], ort=True)
    return made


@pytest.mark.parametrize("tokenizer", ["wordpiece", "unigram"])
@pytest.mark.parametrize(
    ("bundle_kind", "variant"),
    [("full", "fp32"), ("full", "int8"), ("full", "int4"), ("full", "int2"), ("sliced", "int8")],
)
def test_ort_engine_matches_python(site, chromium, web_bundles, tokenizer, bundle_kind, variant):
    """engine "ort" (onnxruntime-web wasm running the graph, ?engine=ort) gives Python's ids and vectors."""
    _, base = site
    bundle = web_bundles[(tokenizer, bundle_kind)]
    page = open_page(chromium, base, bundle.name, f"?engine=ort&variant={variant}")
    assert page.page.evaluate("window.staticEdge.model.engine") == "ort"
    ids, vectors = page.encode(PARITY_TEXTS)
    python = load(bundle, variant=variant)
    assert ids == python.tokenizer.encode(PARITY_TEXTS)
    expected = python.encode(PARITY_TEXTS)
    assert vectors.shape == expected.shape
    assert np.abs(vectors - expected).max() <= 1e-5
    page.close()


def test_ort_engine_runs_threaded_in_the_isolated_page(site, chromium, web_bundles):
    """The server's COOP/COEP headers make the page cross-origin isolated, so onnxruntime-web may use threads."""
    _, base = site
    page = open_page(chromium, base, "wordpiece-full", "?engine=ort")
    assert page.page.evaluate("crossOriginIsolated") is True
    cores = page.page.evaluate("navigator.hardwareConcurrency")
    assert page.page.evaluate("window.staticEdge.model.model.numThreads") == min(4, cores)
    page.close()


def test_ort_engine_in_a_worker(site, chromium, web_bundles):
    """?engine=ort&worker=1: onnxruntime-web inside the Web Worker (its URL resolved through the page's import map)."""
    _, base = site
    bundle = web_bundles[("unigram", "full")]
    page = open_page(chromium, base, bundle.name, "?engine=ort&worker=1&variant=int8")
    ids, vectors = page.encode(PARITY_TEXTS)
    python = load(bundle, variant="int8")
    assert ids == python.tokenizer.encode(PARITY_TEXTS)
    assert np.abs(vectors - python.encode(PARITY_TEXTS)).max() <= 1e-5
    page.close()


def test_search_page_ranks_the_corpus(site, chromium, web_bundles):
    """The default (lite) page answers a typed query with the corpus sentence Python ranks first."""
    _, base = site
    bundle = web_bundles[("wordpiece", "full")]
    page = open_page(chromium, base, bundle.name)
    page.page.fill("#query", "the weather forecast for tomorrow")
    page.page.wait_for_function("window.staticEdge.queries.length > 0")
    shown = page.page.locator("#results li").all_inner_texts()
    assert len(shown) == 10 and "ms for this query" in page.page.inner_text("#timing")
    corpus = json.loads((bundle / "web" / "corpus.json").read_text())
    python = load(bundle)
    scores = python.similarity(["the weather forecast for tomorrow"], corpus)[0]
    best = corpus[int(np.argmax(scores))]
    assert best in shown[0]
    page.close()


def test_page_payload_of_256_dim_int4_bundle_with_30k_vocabulary(site, chromium, tmp_path_factory):
    """A 30,522-token, 256-dim int4 bundle: everything the lite page downloads (page, runtime, tokenizer module,
    corpus and its vectors, manifest, tokenizer, model) at most 5 MB; besides the model, the tokenizer and the
    corpus vectors (one int8 byte per dimension and sentence), at most 0.14 MB (the unminified, JSDoc-typed
    runtime, the tokenizer library, the page, the corpus text and the integrity metadata)."""
    from model_builders import random_table, save_sentence_transformers

    from static_edge.trainer.distill import default_teacher

    root, base = site
    tokenizer_file = default_teacher() / "tokenizer.json"  # all-MiniLM-L6-v2's 30,522-token WordPiece
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    model = save_sentence_transformers(
        tok, random_table(tok.get_vocab_size(), 384, 3), tmp_path_factory.mktemp("m") / "minilm-vocab"
    )
    bundle = export(model, root / "vocab30k", ExportOptions(dims=256, int8=True, int4=True))
    write_web_page(bundle)
    page = open_page(chromium, base, "vocab30k")
    payload = {path: size for path, size in page.responses.items() if "/web/" not in path}
    model_and_tokenizer = payload["/vocab30k/onnx/model_q4.onnx"] + payload["/vocab30k/tokenizer.json"]
    total = sum(page.responses.values())
    assert total <= 5_000_000, page.responses
    vectors = page.responses["/vocab30k/web/corpus.i8"]
    assert vectors == 256 * len(json.loads((bundle / "web" / "corpus.json").read_text()))
    # the page's own code: runtime, tokenizer library, page, manifests, corpus text and the sha384 integrity map
    assert total - model_and_tokenizer - vectors <= 140_000, page.responses
    page.close()


def test_transformers_js_feature_extraction_loads_the_bundle_unmodified(web_bundles, tmp_path):
    """transformers.js (Node, onnxruntime-node) with pooling 'mean' gives the Python vectors."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    texts = [t for t in PARITY_TEXTS if t.strip()]  # transformers.js divides by zero tokens on empty text
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(texts))
    script = Path(__file__).parent / "js" / "transformers_feature_extraction.mjs"
    cases = (
        (("wordpiece", "full"), "fp32", "fp32"),
        (("unigram", "sliced"), "q8", "int8"),
        (("unigram", "full"), "q4", "int4"),
    )
    for key, dtype, variant in cases:
        bundle = web_bundles[key]
        python = load(bundle, variant=variant)
        result = subprocess.run(
            [
                node,
                str(script),
                str(node_modules()),
                str(bundle),
                dtype,
                str(texts_file),
                str(python.manifest.normalize).lower(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert_node_matches_python(result, python, texts)


@pytest.fixture(scope="module")
def transformers_page(site, web_bundles):
    """transformers.js's browser build and onnxruntime-web's wasm files copied into the served folder, with a
    test page (tests/runtimes/js/transformers_browser.*); yields its URL."""
    root, base = site
    modules = node_modules(("@huggingface/transformers/dist/transformers.min.js",))
    folder = root / "tjs"
    (folder / "ort").mkdir(parents=True)
    shutil.copy(modules / "@huggingface/transformers/dist/transformers.min.js", folder)
    for name in ("ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"):
        shutil.copy(modules / "onnxruntime-web/dist" / name, folder / "ort")
    for name in ("transformers_browser.html", "transformers_browser.mjs"):
        shutil.copy(Path(__file__).parent / "js" / name, folder)
    return f"{base}/tjs/transformers_browser.html"


@pytest.mark.parametrize(
    ("key", "dtype", "variant"),
    [
        (("wordpiece", "full"), "q8", "int8"),
        (("unigram", "full"), "fp32", "fp32"),
        (("wordpiece", "full"), "q4", "int4"),
    ],
)
def test_transformers_js_in_chromium_loads_the_bundle_unmodified(
    chromium, web_bundles, transformers_page, key, dtype, variant
):
    """transformers.js's browser build in headless Chromium (wasm, local files only, remote models off) gives
    Python's ids and vectors for the int8 bundle, fp32 and the int4 file (q4, standard ops)."""
    bundle = web_bundles[key]
    texts = [t for t in PARITY_TEXTS if t.strip()]  # transformers.js divides by zero tokens on empty text
    page = LocalOnlyPage(chromium)
    page.page.goto(transformers_page)
    page.page.wait_for_function("() => window.transformersReady === true")
    python = load(bundle, variant=variant)
    result = page.page.evaluate(
        "([bundle, dtype, texts, normalize]) => window.embedWithTransformers(bundle, dtype, texts, normalize)",
        [bundle.name, dtype, texts, python.manifest.normalize],
    )
    assert result["ids"] == python.tokenizer.encode(texts)
    assert np.abs(np.array(result["vectors"]) - python.encode(texts)).max() <= 1e-5
    assert f"/{bundle.name}/onnx/{Path(python.model_file).name}" in page.requests
    page.close()
