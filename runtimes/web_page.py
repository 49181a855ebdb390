"""Write the browser runtime and a search page next to a bundle (`BUNDLE/web/`), and serve it locally.

The page's default lite engine needs only files shipped in this package (the runtime's ES modules and
a vendored copy of @huggingface/tokenizers): no npm on the user's side. `ort=True` adds onnxruntime-web
(engine "ort", `?engine=ort`), copied from npm's node_modules.

`serve_folder` is a static file server for 127.0.0.1 only: loopback Host names only (no DNS rebinding),
nothing outside its root (symlinks resolved and confined), no directory listings, no hidden files, and
headers that isolate the page (CSP, nosniff, COOP/COEP, which also let onnxruntime-web use threads).
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import errno
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from static_edge.runtimes.bundle import read_manifest
from static_edge.runtimes.errors import InputError, OutputFolderError
from static_edge.runtimes.samples import sample_corpus
from static_edge.runtimes.staging import write_file_atomic

WEB_SOURCE = Path(__file__).parent / "web"
NODE_MODULES_ENV = "STATIC_EDGE_NODE_MODULES"
PAGE_FILES = (
    "index.html",
    "page.js",
    "page.css",
    "static-edge.js",
    "embedder.js",
    "bundle-files.js",
    "lite-engine.js",
    "onnx-reader.js",
    "binary.js",
    "vector-index.js",
    "ort-engine.js",
    "worker.js",
    "worker-embedder.js",
)
"""The runtime and page, shipped in the Python package (package-data)."""
PAGE_HTML = "index.html"
MODULE_SUFFIXES = (".js", ".mjs")
IMPORT_MAP_JSON = re.compile(r"<script type=\"importmap\">(.*?)</script>", re.DOTALL)
MODULE_TAG = re.compile(r"(<script type=\"module\" src=|<link rel=\"modulepreload\" href=)\"([^\"]+)\">")
LITE_VENDOR_FILES = ("tokenizers.min.mjs", "tokenizers.LICENSE.txt")
"""Vendored in `runtimes/web/vendor/` (and the Python package): all the lite page needs besides PAGE_FILES."""
# file in node_modules -> name under web/vendor/; only for the "ort" engine
ORT_VENDOR_FILES = {
    "onnxruntime-web/dist/ort.wasm.min.mjs": "ort.wasm.min.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs": "ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm": "ort-wasm-simd-threaded.wasm",
}
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


def node_modules(required: tuple[str, ...] = tuple(ORT_VENDOR_FILES)) -> Path:
    """Where the npm packages are: $STATIC_EDGE_NODE_MODULES, else `runtimes/web/node_modules`.

    :raises FileNotFoundError: with the npm command that installs them.
    """
    folder = Path(os.environ.get(NODE_MODULES_ENV) or WEB_SOURCE / "node_modules")
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the onnxruntime-web engine needs npm packages; {folder} lacks {missing[0]}. Run "
            f"`npm ci --prefix {WEB_SOURCE}` (or point {NODE_MODULES_ENV} at a node_modules), or leave out --ort: "
            "the default lite page needs no npm"
        )
    return folder


def write_web_page(bundle: str | os.PathLike[str], corpus: list[str] | None = None, ort: bool = False) -> Path:
    """Write `BUNDLE/web/` (page, ES modules, vendored tokenizer, corpus.json) and return its path.

    Every file is written next to its destination and renamed over it, so a symlink planted at a
    destination is replaced, never written through; a `web/` or `web/vendor/` that is a symlink is refused.

    :param corpus: sentences the page indexes; the package's sample corpus when None.
    :param ort: also vendor onnxruntime-web from node_modules (for `?engine=ort`).
    :raises BundleError: when `bundle` is not a bundle.
    :raises InputError: for an empty corpus.
    :raises OutputFolderError: when web/ or web/vendor/ is a symlink or not a folder.
    :raises FileNotFoundError: when `ort` and onnxruntime-web is not installed.
    """
    bundle = Path(bundle)
    read_manifest(bundle)  # a clear error for a folder that is not a bundle
    corpus = sample_corpus() if corpus is None else [line for line in corpus if line.strip()]
    if not corpus:
        raise InputError("the corpus is empty: give at least one sentence for the page to search")
    modules = node_modules() if ort else None
    web = bundle / "web"
    vendor = web / "vendor"
    for folder in (web, vendor):
        _make_plain_folder(folder)
    files = {name: (WEB_SOURCE / name).read_bytes() for name in PAGE_FILES if name != PAGE_HTML}
    files.update({f"vendor/{name}": (WEB_SOURCE / "vendor" / name).read_bytes() for name in LITE_VENDOR_FILES})
    if modules is not None:
        files.update({f"vendor/{name}": (modules / source).read_bytes() for source, name in ORT_VENDOR_FILES.items()})
    files["corpus.json"] = json.dumps(corpus, ensure_ascii=False).encode("utf-8")
    files[PAGE_HTML] = page_html((WEB_SOURCE / PAGE_HTML).read_text(encoding="utf-8"), files).encode("utf-8")
    for name, data in files.items():  # index.html last: it names the others' hashes
        _write_file(web / name, data)
    return web


def subresource_integrity(data: bytes) -> str:
    """The Subresource Integrity value of `data` (sha384, base64), as browsers check it."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def page_html(template: str, files: dict[str, bytes]) -> str:
    """The page with integrity metadata for every JavaScript module it may load (`files`: web/ path -> bytes).

    The import map gets an "integrity" map (Chromium 127+ checks every module import against it, dynamic
    imports included), and the page's module script and modulepreload links get integrity attributes (which
    browsers without import-map integrity check too). A module whose bytes changed after `static-edge web`
    wrote it is then refused by the browser, and the page's inline watcher says so in the page.
    """
    modules = {name: data for name, data in files.items() if name.endswith(MODULE_SUFFIXES)}
    hashes = {f"./{name}": subresource_integrity(data) for name, data in modules.items()}
    match = IMPORT_MAP_JSON.search(template)
    if match is None:
        raise ValueError(f"{PAGE_HTML} has no import map")  # a packaging bug, not a user error
    imports = json.loads(match.group(1))
    imports["integrity"] = hashes
    template = template[: match.start(1)] + json.dumps(imports, separators=(", ", ": ")) + template[match.end(1) :]

    def tag(found: re.Match[str]) -> str:
        value = hashes.get(found.group(2))
        return found.group(0) if value is None else f'{found.group(1)}"{found.group(2)}" integrity="{value}">'

    return MODULE_TAG.sub(tag, template)


def _make_plain_folder(folder: Path) -> None:
    if folder.is_symlink():
        raise OutputFolderError(f"{folder} is a symlink; refusing to write through it (remove it and run again)")
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder} exists and is not a folder")
    folder.mkdir(exist_ok=True)


def _write_file(target: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `target`, then rename it over `target` (never through a link)."""
    write_file_atomic(target, lambda handle: handle.write(data))


# ----------------------------------------------------------------------------------------------------
# The local server

LOOPBACK_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".png": "image/png",
}
INLINE_SCRIPT = re.compile(rb"<script(?: type=\"importmap\")?>(.*?)</script>", re.DOTALL)
"""An inline script of the page (its import map, its error watcher): allowed by the CSP by its sha256."""
BASE_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}


def host_allowed(host: str | None) -> bool:
    """True for a loopback Host header: 127.0.0.1, localhost or [::1], with or without a port."""
    return bool(host) and LOOPBACK_HOST.fullmatch(host.strip().lower()) is not None


def content_security_policy(html: bytes | None = None) -> str:
    """Same origin only; an HTML page's own inline scripts (its import map, its error watcher) are allowed by
    their sha256."""
    hashes = ""
    if html is not None:
        found = [base64.b64encode(hashlib.sha256(m).digest()).decode() for m in INLINE_SCRIPT.findall(html)]
        hashes = "".join(f" 'sha256-{h}'" for h in found)
    return BASE_CSP.format(hashes=hashes)


class BundleRequestHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD of plain files under `root`; everything else is 403, 404 or 405."""

    root: Path
    server_version = "static-edge"
    sys_version = ""

    def log_message(self, *args) -> None:
        """No log line per request."""
        pass

    def end_headers(self) -> None:
        """Every response (errors included) carries the isolating headers and a CSP."""
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if not getattr(self, "_csp_sent", False):
            self.send_header("Content-Security-Policy", content_security_policy())
        super().end_headers()

    def do_GET(self) -> None:
        """Headers, then the file's bytes."""
        body = self._head()
        if body is not None:
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        """Headers only."""
        self._head()

    def _head(self) -> bytes | None:
        """Send the status and headers; return the body to send for GET (None after an error)."""
        self._csp_sent = False
        if not host_allowed(self.headers.get("Host")):
            self.send_error(403, "Host must be a loopback name (127.0.0.1, localhost or [::1])")
            return None
        url_path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        parts = [p for p in url_path.split("/") if p]
        if any(p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            self.send_error(404, "Not found")
            return None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            if not url_path.endswith("/"):
                self.send_response(301)
                self.send_header("Location", urllib.parse.quote(url_path + "/"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            target = target / "index.html"  # a folder without index.html is 404: no listings
        try:
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):
            self.send_error(404, "Not found")
            return None
        if not resolved.is_relative_to(self.root) or not resolved.is_file():
            self.send_error(404, "Not found")
            return None
        try:
            body = resolved.read_bytes()
        except OSError:
            self.send_error(404, "Not found")
            return None
        modified = email.utils.formatdate(resolved.stat().st_mtime, usegmt=True)
        not_modified = self.headers.get("If-Modified-Since") == modified
        self.send_response(304 if not_modified else 200)
        if resolved.suffix.lower() == ".html":
            # also on a 304: its headers replace the cached ones, so it must allow the same import map
            self.send_header("Content-Security-Policy", content_security_policy(body))
            self._csp_sent = True
        self.send_header("Last-Modified", modified)
        self.send_header("Cache-Control", "no-cache")
        if not_modified:
            self.end_headers()
            return None
        self.send_header("Content-Type", CONTENT_TYPES.get(resolved.suffix.lower(), "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return body


class PreviewServer(http.server.ThreadingHTTPServer):
    """The standard threading server, but a client that goes away mid-response (a closed tab, a reload) is no
    error worth a traceback; anything else is one line on stderr."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """Called by socketserver inside its `except` for the failing request."""
        kind, err, _ = sys.exc_info()
        if isinstance(err, ConnectionError):
            return
        print(f"warning: request from {client_address[0]} failed: {kind.__name__ if kind else 'error'}: {err}",
              file=sys.stderr)  # fmt: skip


def serve_folder(folder: str | os.PathLike[str], port: int = 0) -> http.server.ThreadingHTTPServer:
    """A static file server over `folder` on 127.0.0.1 (port 0: any free port); the caller runs
    `serve_forever()` (in a thread, if it must go on) and `shutdown()`.

    :raises InputError: when the port is in use.
    """
    root = Path(folder).resolve(strict=True)
    handler = type("Handler", (BundleRequestHandler,), {"root": root})
    try:
        return PreviewServer(("127.0.0.1", port), handler)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            message = f"port {port} on 127.0.0.1 is in use: choose another with --port (0 picks a free one)"
            raise InputError(message) from err
        raise


@contextlib.contextmanager
def serving(folder: str | os.PathLike[str], port: int = 0) -> Iterator[str]:
    """Serve `folder` from a background thread; yields the base URL (http://127.0.0.1:PORT) and stops the
    server (and its thread) on exit, even on error."""
    server = serve_folder(folder, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
