"""The lite browser runtime (no onnxruntime-web) in Debian's headless Chromium: parity with Python for
every variant, integrity checks with Web Crypto, pinning, Cache Storage, the Web Worker and binary search.

Every request a page makes is checked: anything not addressed to 127.0.0.1 is aborted and fails the test.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from browser_pages import LocalOnlyPage, open_page, served

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.binary import hamming_distances, to_ubinary
from static_edge.runtimes.bundle import bundle_digest, verify_files
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.variants import VARIANTS
from static_edge.runtimes.web_page import write_web_page

pytestmark = pytest.mark.browser

ALL_VARIANTS = ExportOptions(extra_variants=VARIANTS)
SCALED = [name for name, v in VARIANTS.items() if v.scaled]
LOAD = "async ([url, options]) => { const {StaticEmbedder} = await import('./static-edge.js');"


@pytest.fixture
def context(chromium):
    """A browser profile of its own (Cache Storage included) that several pages of one test share."""
    made = chromium.new_context()
    yield made
    made.close()


@pytest.fixture(scope="module")
def lite_site(tmp_path_factory, st_wordpiece, st_unigram, m2v_model):
    """Bundles with every variant (WordPiece 256 dims; Unigram 64 dims normalized; model2vec with unknown-token
    masking and max_length; WordPiece cut to 33 dims, an odd int4 row), each with its lite page; yields
    (root, base URL, bundles)."""
    root = tmp_path_factory.mktemp("lite-site")
    bundles = {
        "wordpiece": export(st_wordpiece, root / "wordpiece", ALL_VARIANTS),
        "unigram": export(st_unigram, root / "unigram", ALL_VARIANTS),
        "model2vec": export(m2v_model, root / "model2vec", ALL_VARIANTS),
        "odd": export(st_wordpiece, root / "odd", ExportOptions(dims=33, extra_variants=SCALED)),
    }
    for bundle in bundles.values():
        write_web_page(bundle)
    with served(root) as base:
        yield root, base, bundles


@pytest.mark.parametrize("name", ["wordpiece", "unigram", "model2vec", "odd"])
def test_lite_runtime_matches_python_for_every_variant(chromium, lite_site, name):
    """Identical token ids and vectors within 1e-5 of Python's onnxruntime, for every variant of the bundle."""
    _, base, bundles = lite_site
    bundle = bundles[name]
    page = open_page(chromium, base, name)
    assert page.page.evaluate("window.staticEdge.model.engine") == "lite"
    variants = load(bundle).manifest.variants
    assert set(variants) == {"fp32", *(SCALED if name == "odd" else VARIANTS)}
    for variant in variants:
        page.page.evaluate(
            LOAD + " window.m = await StaticEmbedder.load(url, options); }", ["../", {"variant": variant}]
        )
        ids, vectors = page.encode(PARITY_TEXTS, "window.m")
        python = load(bundle, variant=variant)
        assert ids == python.tokenizer.encode(PARITY_TEXTS), variant
        expected = python.encode(PARITY_TEXTS)
        assert vectors.shape == expected.shape
        assert np.abs(vectors - expected).max() <= 1e-5, variant
    page.close()


def test_lite_page_downloads_no_onnxruntime(chromium, lite_site):
    """The default page fetches the tokenizer module and the default variant's ONNX file, nothing of onnxruntime."""
    _, base, bundles = lite_site
    page = open_page(chromium, base, "wordpiece")
    fetched = set(page.responses)
    manifest = load(bundles["wordpiece"]).manifest
    assert "/wordpiece/web/vendor/tokenizers.min.mjs" in fetched
    assert "/wordpiece/onnx/model_q4.onnx" in fetched and manifest.default_variant == "int4"
    assert not any("ort" in path.rsplit("/", 1)[-1] and "vendor" in path for path in fetched), fetched
    assert "/wordpiece/onnx/model.onnx" not in fetched
    page.close()


def test_second_visit_loads_the_model_from_cache_storage(chromium, context, lite_site):
    """A second page in the same browser profile makes no network request for the model or tokenizer files."""
    _, base, _ = lite_site
    first = LocalOnlyPage(chromium, context)
    first.open(f"{base}/unigram/web/index.html")
    assert "/unigram/onnx/model_q4.onnx" in first.requests
    progress = first.page.evaluate("window.staticEdge.progress")
    assert progress["onnx/model_q4.onnx"]["loaded"] == progress["onnx/model_q4.onnx"]["total"] > 0
    first.close()
    second = LocalOnlyPage(chromium, context)
    second.open(f"{base}/unigram/web/index.html")
    assert "/unigram/onnx/model_q4.onnx" not in second.requests
    assert "/unigram/tokenizer.json" not in second.requests
    assert "/unigram/static_edge.json" in second.requests  # the manifest is always checked afresh
    cached = second.page.evaluate("window.staticEdge.model.loadedFrom.cache")
    assert sorted(cached) == ["onnx/model_q4.onnx", "tokenizer.json", "tokenizer_config.json"]
    second.close()


@pytest.fixture()
def tampered_bundle(lite_site, tmp_path):
    """A copy of the WordPiece bundle (inside the served folder) whose tokenizer.json was edited afterwards,
    keeping its size (so only the sha256 can tell)."""
    root, _, bundles = lite_site
    copy = root / f"tampered-{tmp_path.name}"
    shutil.copytree(bundles["wordpiece"], copy)
    text = (copy / "tokenizer.json").read_text()
    edited = text.replace('"lowercase": true', '"lowercase":false', 1)
    assert edited != text and len(edited) == len(text)
    (copy / "tokenizer.json").write_text(edited)
    yield copy
    shutil.rmtree(copy)


def test_page_refuses_a_bundle_whose_tokenizer_was_edited(chromium, lite_site, tampered_bundle):
    """Python refuses the edited tokenizer.json; so does the page, naming the file (sha256 via Web Crypto)."""
    _, base, _ = lite_site
    with pytest.raises(ValueError, match="tokenizer.json"):
        verify_files(tampered_bundle, load(lite_site[2]["wordpiece"]).manifest, ["tokenizer.json"])
    page = LocalOnlyPage(chromium)
    error = page.open(f"{base}/{tampered_bundle.name}/web/index.html", expect_error=True)
    assert error is not None and "tokenizer.json does not match its sha256" in error
    page.close()


def test_pinned_digest_loads_and_a_wrong_pin_is_refused(chromium, lite_site):
    """`sha256` pins the bundle: Python's bundle_digest loads; any other digest is refused with both digests named."""
    _, base, bundles = lite_site
    digest = bundle_digest(bundles["unigram"])
    page = open_page(chromium, base, "unigram", f"?sha256={digest}")
    assert page.page.evaluate("window.staticEdge.model.digest") == digest
    wrong = "0" * 64
    error = page.page.evaluate(
        LOAD + " try { await StaticEmbedder.load(url, options); return null; } catch (e) { return e.message; } }",
        ["../", {"sha256": wrong}],
    )
    assert error is not None and digest in error and wrong in error
    page.close()


def test_page_refuses_a_manifest_whose_hashes_were_rewritten_when_pinned(chromium, lite_site, tmp_path):
    """Rewriting the sha256 of an edited file into the manifest passes the file check, not the pin."""
    root, base, bundles = lite_site
    copy = root / f"rehashed-{tmp_path.name}"
    shutil.copytree(bundles["unigram"], copy)
    pin = bundle_digest(copy)
    tokenizer = copy / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"unk_id"', '"unk_id" ', 1))
    manifest = json.loads((copy / "static_edge.json").read_text())
    manifest["files"]["tokenizer.json"].update(
        bytes=tokenizer.stat().st_size, sha256=hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    )
    (copy / "static_edge.json").write_text(json.dumps(manifest))
    try:
        page = LocalOnlyPage(chromium)
        # unpinned, the rewritten hashes pass; the corpus vectors, made by the original bundle, then refuse it
        error = page.open(f"{base}/{copy.name}/web/index.html", expect_error=True)
        assert error is not None and "the corpus was encoded by bundle" in error
        error = page.open(f"{base}/{copy.name}/web/index.html?sha256={pin}", expect_error=True)
        assert error is not None and "not the one you pinned" in error
        page.close()
    finally:
        shutil.rmtree(copy)


def test_worker_embedder_matches_the_page_engine(chromium, lite_site):
    """encode in a Web Worker (?worker=1) gives the same ids and vectors as in the page, and Python's."""
    _, base, bundles = lite_site
    page = open_page(chromium, base, "model2vec", "?worker=1")
    assert page.page.evaluate("window.staticEdge.model.constructor.name") == "WorkerEmbedder"
    ids, vectors = page.encode(PARITY_TEXTS)
    python = load(bundles["model2vec"], variant="int4")  # the browser loads the smallest variant
    assert ids == python.tokenizer.encode(PARITY_TEXTS)
    assert np.abs(vectors - python.encode(PARITY_TEXTS)).max() <= 1e-5
    page.close()


def test_binary_packing_and_hamming_ranking_match_python(chromium, lite_site):
    """ubinary codes equal np.packbits(x > 0); a binary VectorIndex ranks like Hamming distance in numpy."""
    _, base, bundles = lite_site
    page = open_page(chromium, base, "wordpiece")
    corpus = json.loads((bundles["wordpiece"] / "web" / "corpus.json").read_text())
    python = load(bundles["wordpiece"], variant="int4")
    codes = page.page.evaluate(
        "async (texts) => Array.from(await window.staticEdge.model.encodeBinary(texts))", PARITY_TEXTS
    )
    expected = to_ubinary(python.encode(PARITY_TEXTS))
    assert np.array_equal(np.array(codes, dtype=np.uint8).reshape(expected.shape), expected)
    query = "the weather forecast for tomorrow"
    hits = page.page.evaluate(
        "async ([q, texts]) => { const {VectorIndex} = await import('./static-edge.js');"
        " const index = new VectorIndex(window.staticEdge.model, {binary: true});"
        " await index.add(texts); return index.search(q, 10); }",
        [query, corpus],
    )
    distances = hamming_distances(to_ubinary(python.encode([query])), to_ubinary(python.encode(corpus)))[0]
    order = np.lexsort((np.arange(len(distances)), distances))[:10]  # by distance, ties by index (binary.py)
    assert [hit["index"] for hit in hits] == order.tolist()
    assert [hit["distance"] for hit in hits] == distances[order].tolist()
    page.close()


def test_ort_engine_on_a_lite_only_page_says_how_to_add_it(chromium, lite_site):
    """?engine=ort on a page written without --ort: one clear error naming the fix, not a hang."""
    _, base, _ = lite_site
    page = LocalOnlyPage(chromium)
    error = page.open(f"{base}/unigram/web/index.html?engine=ort", expect_error=True)
    assert error is not None and "onnxruntime-web" in error and "--ort" in error
    page.close()


def test_a_loaded_bundle_loads_again_offline(chromium, context, lite_site):
    """After one load, the bundle loads with the network gone: manifest and files from Cache Storage, verified."""
    _, base, bundles = lite_site
    page = LocalOnlyPage(chromium, context)
    page.open(f"{base}/odd/web/index.html")
    context.set_offline(True)
    result = page.page.evaluate(
        LOAD + " const m = await StaticEmbedder.load(url, options);"
        " return {from: m.loadedFrom, vector: Array.from((await m.encode(['offline text']))[0])}; }",
        ["../", {}],
    )
    assert result["from"]["network"] == []
    assert "static_edge.json" in result["from"]["cache"] and "onnx/model_q4.onnx" in result["from"]["cache"]
    expected = load(bundles["odd"], variant="int4").encode(["offline text"])[0]
    assert np.abs(np.array(result["vector"]) - expected).max() <= 1e-5
    context.set_offline(False)
    page.close()
