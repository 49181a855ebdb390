"""Write the browser runtime and a search page next to a bundle: `BUNDLE/web/`.

The page works from any static file server on localhost (`python -m http.server -d BUNDLE`), with no
network: onnxruntime-web and @huggingface/tokenizers are copied from npm's node_modules into
`web/vendor/`.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
from pathlib import Path

from static_edge.runtimes.bundle import read_manifest
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.samples import sample_corpus

WEB_SOURCE = Path(__file__).parent / "web"
NODE_MODULES_ENV = "STATIC_EDGE_NODE_MODULES"
# file in node_modules -> name under web/vendor/
VENDOR_FILES = {
    "onnxruntime-web/dist/ort.wasm.min.mjs": "ort.wasm.min.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs": "ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm": "ort-wasm-simd-threaded.wasm",
    "@huggingface/tokenizers/dist/tokenizers.min.mjs": "tokenizers.min.mjs",
}
PAGE_FILES = ("index.html", "static-edge.js")
CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, which the browser tests and timings drive through playwright."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these, Chromium keeps trying to reach Google's services, which a closed network refuses
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files without a log line per request."""

    def log_message(self, *args) -> None:
        pass


def serve_folder(folder: str | os.PathLike[str], port: int = 0) -> http.server.ThreadingHTTPServer:
    """A static file server over `folder` on 127.0.0.1 (port 0: any free port); the caller runs
    `serve_forever()` (in a thread, if it must go on) and `shutdown()`."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def node_modules() -> Path:
    """Where the npm packages are: $STATIC_EDGE_NODE_MODULES, else `runtimes/web/node_modules`.

    :raises FileNotFoundError: with the npm command that installs them.
    """
    folder = Path(os.environ.get(NODE_MODULES_ENV) or WEB_SOURCE / "node_modules")
    missing = [name for name in VENDOR_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the browser runtime needs onnxruntime-web and @huggingface/tokenizers from npm; {folder} lacks "
            f"{missing[0]}. Run `npm ci --prefix {WEB_SOURCE}` (or point {NODE_MODULES_ENV} at a node_modules)"
        )
    return folder


def write_web_page(bundle: str | os.PathLike[str], corpus: list[str] | None = None) -> Path:
    """Write `BUNDLE/web/` (page, ES module, vendored libraries, corpus.json) and return its path.

    :param corpus: sentences the page indexes; the package's sample corpus when None.
    :raises BundleError: when `bundle` is not a bundle.
    :raises ValueError: for an empty corpus.
    """
    bundle = Path(bundle)
    read_manifest(bundle)  # a clear error for a folder that is not a bundle
    corpus = sample_corpus() if corpus is None else [line for line in corpus if line.strip()]
    if not corpus:
        raise InputError("the corpus is empty: give at least one sentence for the page to search")
    modules = node_modules()
    web = bundle / "web"
    vendor = web / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(WEB_SOURCE / name, web / name)
    for source, target in VENDOR_FILES.items():
        shutil.copyfile(modules / source, vendor / target)
    (web / "corpus.json").write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
    return web
