"""The browser runtime in Debian's headless Chromium (driven by Python playwright), and transformers.js.

Every request the page makes is checked: anything not addressed to 127.0.0.1 is blocked and fails
the test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from browser_support import require_browser_tools

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.web_page import node_modules, serve_folder, write_web_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """A static file server on 127.0.0.1 over a folder of bundles; yields (root, base URL)."""
    require_browser_tools()
    root = tmp_path_factory.mktemp("site")
    server = serve_folder(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class LocalOnlyPage:
    """A page whose requests may only go to 127.0.0.1; any other address is aborted and recorded."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.outside: list[str] = []
        self.responses: dict[str, int] = {}
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("response", self._record)

    def _route(self, route) -> None:
        url = route.request.url
        if urlparse(url).scheme in ("data", "blob") or urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _record(self, response) -> None:
        if response.ok and urlparse(response.url).hostname == "127.0.0.1":
            self.responses[urlparse(response.url).path] = len(response.body())

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function("window.staticEdge && (window.staticEdge.ready || window.staticEdge.error)")
        error = self.page.evaluate("window.staticEdge.error")
        assert error is None, error

    def encode(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        result = self.page.evaluate(
            "async (texts) => { const m = window.staticEdge.model;"
            " return {ids: m.tokenize(texts), vectors: (await m.encode(texts)).map((v) => Array.from(v))}; }",
            texts,
        )
        return result["ids"], np.array(result["vectors"], dtype=np.float32)

    def close(self) -> None:
        self.context.close()
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"


@pytest.fixture(scope="session")
def web_bundles(site, st_wordpiece, st_unigram):
    """Per tokenizer type: a full bundle (fp32 + int8) and a Matryoshka-sliced one, each with its page."""
    root, _ = site
    made = {}
    for name, model, sliced_dims in (("wordpiece", st_wordpiece, 32), ("unigram", st_unigram, 16)):
        made[(name, "full")] = export(model, root / f"{name}-full", ExportOptions(int8=True))
        made[(name, "sliced")] = export(model, root / f"{name}-sliced", ExportOptions(dims=sliced_dims, int8=True))
        for key in ((name, "full"), (name, "sliced")):
            write_web_page(made[key])
    return made


@pytest.mark.parametrize("tokenizer", ["wordpiece", "unigram"])
@pytest.mark.parametrize(("bundle_kind", "variant"), [("full", "fp32"), ("full", "int8"), ("sliced", "int8")])
def test_browser_matches_python(site, chromium, web_bundles, tokenizer, bundle_kind, variant):
    _, base = site
    bundle = web_bundles[(tokenizer, bundle_kind)]
    page = LocalOnlyPage(chromium)
    page.open(f"{base}/{bundle.name}/web/index.html?variant={variant}")
    ids, vectors = page.encode(PARITY_TEXTS)
    python = load(bundle, variant=variant)
    assert ids == python.tokenizer.encode(PARITY_TEXTS)
    expected = python.encode(PARITY_TEXTS)
    assert vectors.shape == expected.shape
    assert np.abs(vectors - expected).max() <= 1e-5
    page.close()


def test_search_page_ranks_the_corpus(site, chromium, web_bundles):
    _, base = site
    bundle = web_bundles[("wordpiece", "full")]
    page = LocalOnlyPage(chromium)
    page.open(f"{base}/{bundle.name}/web/index.html")
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


def test_page_payload_of_256_dim_int8_bundle_with_30k_vocabulary(site, chromium, tmp_path_factory):
    """Model + tokenizer a page downloads for a 30k-token, 256-dim int8 bundle: under 9 MB."""
    from model_builders import random_table, save_sentence_transformers

    from static_edge.trainer.distill import default_teacher

    root, base = site
    tokenizer_file = default_teacher() / "tokenizer.json"  # all-MiniLM-L6-v2's 30,522-token WordPiece
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    model = save_sentence_transformers(
        tok, random_table(tok.get_vocab_size(), 384, 3), tmp_path_factory.mktemp("m") / "minilm-vocab"
    )
    bundle = export(model, root / "vocab30k", ExportOptions(dims=256, int8=True))
    write_web_page(bundle)
    page = LocalOnlyPage(chromium)
    page.open(f"{base}/vocab30k/web/index.html")
    payload = {path: size for path, size in page.responses.items() if "/web/" not in path}
    assert "/vocab30k/onnx/model_quantized.onnx" in payload and "/vocab30k/tokenizer.json" in payload
    total = sum(payload.values())
    assert total < 9_000_000, payload
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
    for key, dtype, variant in ((("wordpiece", "full"), "fp32", "fp32"), (("unigram", "sliced"), "q8", "int8")):
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
        assert result.returncode == 0, result.stderr[-2000:]
        output = json.loads(result.stdout)
        assert output["ids"] == python.tokenizer.encode(texts)
        assert np.abs(np.array(output["vectors"]) - python.encode(texts)).max() <= 1e-5
