"""The search page of `static-edge web` searches the corpus vectors Python shipped with it, in Debian's headless
Chromium: it encodes only queries, ranks exactly as `web_corpus.rank` does (int8, and sign bits + int8 rescoring),
and a corpus file changed after `static-edge web` wrote it stops the page with a clear error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from browser_pages import LocalOnlyPage, served

from static_edge.runtimes import load
from static_edge.runtimes.bundle import read_manifest
from static_edge.runtimes.samples import sample_corpus
from static_edge.runtimes.web_corpus import BINARY_FILE, CORPUS_MANIFEST, INT8_FILE, rank, read_corpus_vectors
from static_edge.runtimes.web_page import write_web_page

pytestmark = pytest.mark.browser

QUERIES = ["is it going to rain tomorrow?", "a recipe for bread", "who won the football match"]


@pytest.fixture(scope="module")
def corpus_site(tmp_path_factory, st_bundle):
    """Two copies of the test bundle with pages over the sample corpus: int8 vectors, and sign bits + int8."""
    root = tmp_path_factory.mktemp("corpus-site")
    for kind in ("int8", "binary"):
        write_web_page(shutil.copytree(st_bundle, root / kind), sample_corpus(), vectors=kind)
    with served(root) as base:
        yield root, base


def _shipped(web):
    names = [CORPUS_MANIFEST, INT8_FILE] + ([BINARY_FILE] if (web / BINARY_FILE).exists() else [])
    return read_corpus_vectors({name: (web / name).read_bytes() for name in names})


@pytest.mark.parametrize("kind", ["int8", "binary"])
def test_the_page_searches_the_shipped_vectors_as_python_ranks_them(chromium, corpus_site, kind):
    """Ready without encoding a single passage; each query's hits are `web_corpus.rank` of the page's query vector,
    and the page's query vector is Python's (the same variant encoded the corpus)."""
    root, base = corpus_site
    web = root / kind / "web"
    manifest, shipped = _shipped(web)
    assert manifest["vectors"] == kind
    page = LocalOnlyPage(chromium)
    page.open(f"{base}/{kind}/web/index.html")
    assert page.page.evaluate("window.staticEdge.encodedTexts") == 0
    assert page.page.evaluate("window.staticEdge.index.size") == len(sample_corpus())
    assert page.page.evaluate("window.staticEdge.model.variant") == read_manifest(root / kind).default_variant
    python = load(root / kind, variant=manifest["variant"])
    for query in QUERIES:
        hits = page.page.evaluate("async (q) => window.staticEdge.search(q)", query)
        vector = np.array(
            page.page.evaluate("async (q) => Array.from((await window.staticEdge.model.encode([q]))[0])", query),
            dtype=np.float32,
        )
        assert np.abs(vector - python.encode([query])[0]).max() <= 1e-5
        expected = rank(shipped, vector, k=10, rescore=manifest["rescore"])
        assert [hit["index"] for hit in hits] == [index for index, _ in expected]
        assert [hit["score"] for hit in hits] == pytest.approx([score for _, score in expected], abs=1e-9)
        assert [hit["text"] for hit in hits] == [sample_corpus()[index] for index, _ in expected]
    assert page.page.evaluate("window.staticEdge.encodedTexts") == 2 * len(QUERIES)  # queries only
    page.page.fill("#query", "the weather forecast for tomorrow")
    page.page.wait_for_function("() => window.staticEdge.queries.length > 3")
    assert len(page.page.locator("#results li").all_inner_texts()) == 10
    page.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (INT8_FILE, "corpus.i8 does not match its sha256 in corpus-manifest.json: the file was modified"),
        (BINARY_FILE, "corpus.ubin does not match its sha256 in corpus-manifest.json: the file was modified"),
        ("corpus.json", "corpus.json does not match its sha256 in corpus-manifest.json: the file was modified"),
        (CORPUS_MANIFEST, "corpus-manifest.json does not match the sha256 the page names: the corpus was modified"),
    ],
)
def test_a_changed_corpus_file_stops_the_page_with_a_clear_error(chromium, corpus_site, name, expected):
    """A changed corpus file stops the page with a clear error."""
    root, base = corpus_site
    copy = shutil.copytree(root / "binary", root / f"changed-{name}")
    target = copy / "web" / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: the size stays right, the sha256 does not
    target.write_bytes(bytes(data))
    page = LocalOnlyPage(chromium)
    error = page.open(f"{base}/{copy.name}/web/index.html", expect_error=True)
    status = page.page.locator("#status")
    assert error is not None and expected in error
    assert expected in status.inner_text() and "error" in (status.get_attribute("class") or "")
    page.close()


def test_vectors_of_another_bundle_are_refused(chromium, corpus_site, st_wordpiece):
    """Corpus files copied next to a different bundle: the page says to write the page again."""
    from static_edge.exporter import ExportOptions, export

    root, base = corpus_site
    other = export(st_wordpiece, root / "other", ExportOptions(dims=128, int8=True, int4=True))
    write_web_page(other)
    shutil.rmtree(other / "web")
    shutil.copytree(root / "int8" / "web", other / "web")
    page = LocalOnlyPage(chromium)
    error = page.open(f"{base}/other/web/index.html?variant=int8", expect_error=True)
    assert error is not None and "run static-edge web again" in error and "the corpus was encoded by bundle" in error
    page.close()
