"""Three tokenizer families in the browser: both page engines (lite and onnxruntime-web) in headless Chromium.

Multilingual WordPiece, SentencePiece-style Unigram and byte-level BPE bundles (tests/tokenizer_families.py)
are served from 127.0.0.1; the page's ids (@huggingface/tokenizers) must equal the `tokenizers` Python
library's ids of the source tokenizer, and its vectors the Python runtime's. Requests leaving 127.0.0.1 fail.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

import numpy as np
import pytest
from browser_support import require_browser_tools
from tokenizer_families import FAMILIES, FAMILY_TEXTS, family_model
from tokenizers import Tokenizer

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.web_page import write_web_page
from static_edge.runtimes.web_server import serve_folder

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def family_site(tmp_path_factory):
    """Per family an exported bundle (fp32 + int8) with its page, served on 127.0.0.1; yields (bundles, base URL)."""
    require_browser_tools()
    root = tmp_path_factory.mktemp("family-site")
    models = tmp_path_factory.mktemp("family-models")
    bundles = {}
    for family in FAMILIES:
        model = family_model(models / family, family)
        bundles[family] = (model, export(model, root / family, ExportOptions(int8=True)))
        write_web_page(bundles[family][1], ort=True)  # both engines: lite (default) and onnxruntime-web
    server = serve_folder(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bundles, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _encode_in_page(browser, url: str, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
    context = browser.new_context()
    outside: list[str] = []

    def route(route) -> None:
        parsed = urlparse(route.request.url)
        if parsed.scheme in ("data", "blob") or parsed.hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    try:
        page = context.new_page()
        page.goto(url)
        # polled with evaluate: wait_for_function evaluates a string in the page, which the page's CSP forbids
        deadline = time.monotonic() + 60
        while not page.evaluate("() => !!(window.staticEdge && (window.staticEdge.ready || window.staticEdge.error))"):
            assert time.monotonic() < deadline, "the page did not load its model within 60 s"
            page.wait_for_timeout(50)
        error = page.evaluate("() => window.staticEdge.error ?? null")
        assert error is None, error
        result = page.evaluate(
            "async (texts) => { const m = window.staticEdge.model;"
            " return {ids: m.tokenize(texts), vectors: (await m.encode(texts)).map((v) => Array.from(v))}; }",
            texts,
        )
    finally:
        context.close()
    assert outside == [], f"requests left 127.0.0.1: {outside}"
    return result["ids"], np.array(result["vectors"], dtype=np.float32)


@pytest.mark.parametrize("engine", ["lite", "ort"])
@pytest.mark.parametrize("variant", ["fp32", "int8"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_browser_ids_and_vectors_match_python(chromium, family_site, family, variant, engine):
    """Browser ids and vectors match Python."""
    bundles, base = family_site
    model, bundle = bundles[family]
    ids, vectors = _encode_in_page(
        chromium, f"{base}/{bundle.name}/web/index.html?variant={variant}&engine={engine}", FAMILY_TEXTS
    )
    library = Tokenizer.from_file(str(model / "tokenizer.json"))
    assert ids == [e.ids for e in library.encode_batch(FAMILY_TEXTS, add_special_tokens=False)], family
    expected = load(bundle, variant=variant).encode(FAMILY_TEXTS)
    assert vectors.shape == expected.shape
    assert np.abs(vectors - expected).max() <= 1e-5, (family, variant, engine)
