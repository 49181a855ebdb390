"""The preview server of `static-edge web --serve`: a static file server for 127.0.0.1 only.

Loopback Host names only (`static_edge.runtimes.loopback`, the rule `static-edge serve` uses too: no DNS
rebinding), nothing outside its root (symlinks resolved and confined), no directory listings, no hidden files, and
headers that isolate the page (CSP, nosniff, COOP/COEP, which also let onnxruntime-web use threads).
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import errno
import hashlib
import http.server
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from static_edge.runtimes.errors import InputError
from static_edge.runtimes.loopback import loopback_host_header

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
        if not loopback_host_header(self.headers.get("Host")):
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
