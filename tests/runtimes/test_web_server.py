"""`static-edge web`: the page is written without following symlinks, and the local server (serve_folder)
answers only loopback Host names, only files inside its root, no listings, with isolating headers.

Each test talks to a real server on 127.0.0.1 with http.client (which lets a test forge the Host header).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from browser_pages import served

from static_edge.cli import main
from static_edge.runtimes.errors import InputError, OutputFolderError
from static_edge.runtimes.web_page import (
    LITE_VENDOR_FILES,
    NODE_MODULES_ENV,
    ORT_VENDOR_FILES,
    PAGE_FILES,
    write_web_page,
)
from static_edge.runtimes.web_server import serve_folder


@pytest.fixture(scope="module")
def site(tmp_path_factory, st_bundle):
    """A served folder holding a bundle with its page, a secret file beside it, and planted symlinks."""
    top = tmp_path_factory.mktemp("server")
    (top / "secret.txt").write_text("not for the browser")
    root = top / "root"
    root.mkdir()
    bundle = root / "bundle"
    os.symlink(st_bundle, bundle, target_is_directory=True)  # a bundle that lives outside the root, linked in
    real = root / "real-bundle"
    shutil.copytree(st_bundle, real, ignore=shutil.ignore_patterns("web"))
    write_web_page(real)
    (real / "empty-folder").mkdir()
    (real / ".hidden").write_text("staging")
    os.symlink(top / "secret.txt", real / "link-out.txt")
    os.symlink(top, real / "dir-out", target_is_directory=True)
    os.symlink(real / "tokenizer.json", real / "link-in.json")
    with served(root) as base:
        yield root, int(base.rsplit(":", 1)[1])


def copy_bundle(bundle: Path, folder: Path) -> Path:
    """A private copy of a session bundle (without any page), so a test never changes the shared one."""
    return shutil.copytree(bundle, folder / "bundle", ignore=shutil.ignore_patterns("web"))


def get(port: int, path: str, host: str | None = None) -> http.client.HTTPResponse:
    """GET `path` from the preview server with a chosen Host header."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_serves_the_page_with_isolating_headers(site):
    """A file inside the root: 200, with CSP (same origin; the page's import map by hash), nosniff, COOP, COEP."""
    root, port = site
    response = get(port, "/real-bundle/web/index.html")
    assert response.status == 200
    html = (root / "real-bundle" / "web" / "index.html").read_bytes()
    assert response.body == html
    csp = response.getheader("Content-Security-Policy")
    import_map = re.search(rb'<script type="importmap">(.*?)</script>', html, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(import_map).digest()).decode()
    assert f"script-src 'self' 'wasm-unsafe-eval' 'sha256-{digest}'" in csp
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
    js = get(port, "/real-bundle/web/static-edge.js")
    assert js.status == 200 and js.getheader("Content-Type").startswith("text/javascript")
    assert "'sha256-" not in js.getheader("Content-Security-Policy")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "[::1]:1234"])
def test_loopback_host_names_are_served(site, host):
    """Loopback host names are served."""
    _, port = site
    assert get(port, "/real-bundle/static_edge.json", host).status == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil:80", "10.0.0.1", ""]
)
def test_other_host_names_are_refused(site, host):
    """DNS rebinding: a page from another name that resolves to 127.0.0.1 gets 403, not the bundle."""
    _, port = site
    response = get(port, "/real-bundle/static_edge.json", host)
    assert response.status == 403
    assert b"loopback" in response.body and b"dims" not in response.body


@pytest.mark.parametrize(
    "path",
    [
        "/real-bundle/link-out.txt",  # a symlink to a file outside the root
        "/real-bundle/dir-out/secret.txt",  # through a symlinked folder outside the root
        "/bundle/static_edge.json",  # a symlinked bundle that lives outside the root
        "/../secret.txt",
        "/real-bundle/%2e%2e/%2e%2e/secret.txt",
        "/real-bundle/.hidden",
        "/real-bundle/",  # a folder without index.html: no listing
        "/real-bundle/empty-folder/",
        "/",
    ],
)
def test_nothing_outside_the_root_no_listing_no_hidden_files(site, path):
    """Nothing outside the root no listing no hidden files."""
    _, port = site
    response = get(port, path)
    assert response.status == 404, (path, response.body[:200])
    assert b"not for the browser" not in response.body and b"Directory listing" not in response.body


def test_a_symlink_inside_the_root_is_served(site):
    """A symlink inside the root is served."""
    root, port = site
    response = get(port, "/real-bundle/link-in.json")
    assert response.status == 200 and response.body == (root / "real-bundle" / "tokenizer.json").read_bytes()


def test_folder_urls_redirect_and_serve_index_html(site):
    """Folder urls redirect and serve index html."""
    _, port = site
    response = get(port, "/real-bundle/web")
    assert response.status == 301 and response.getheader("Location") == "/real-bundle/web/"
    assert get(port, "/real-bundle/web/").status == 200


def test_only_get_and_head(site):
    """Only get and head."""
    _, port = site
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/real-bundle/static_edge.json", body=b"x")
    assert connection.getresponse().status == 501
    connection.close()


def test_port_in_use_is_one_clear_error(tmp_path, st_bundle, capsys):
    """serve_folder raises InputError; `static-edge web --serve` prints one line and exits 2."""
    st_bundle = copy_bundle(st_bundle, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"port {port} on 127.0.0.1 is in use"):
            serve_folder(st_bundle, port)
        assert main(["web", str(st_bundle), "--serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: port") and "--port" in err and len(err.splitlines()) == 1


@pytest.mark.slow  # end to end: a real server
def test_web_serve_command_serves_the_hardened_page(tmp_path, st_bundle):
    """`static-edge web BUNDLE --serve --port 0` prints its URL and serves the page with the headers."""
    bundle = copy_bundle(st_bundle, tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "static_edge.cli", "web", str(bundle), "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        printed = []
        for line in process.stdout:
            printed.append(line)
            found = re.search(r"serving http://127\.0\.0\.1:(\d+)/web/", line)
            if found:
                break
        else:
            pytest.fail("the server never printed its URL")
        assert not any("8000" in line for line in printed), "no address but the one it serves on"
        port = int(found.group(1))
        response = get(port, "/web/")
        assert response.status == 200 and b'type="importmap"' in response.body
        assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
        assert get(port, "/web/", "attacker.example").status == 403
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        process.stdout.close()


def test_write_refuses_a_symlinked_web_folder(tmp_path, st_bundle):
    """BUNDLE/web linked elsewhere: refused with a clear error, nothing written at the link's target."""
    bundle = copy_bundle(st_bundle, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, bundle / "web", target_is_directory=True)
    with pytest.raises(OutputFolderError, match="symlink"):
        write_web_page(bundle)
    assert list(elsewhere.iterdir()) == []
    assert main(["web", str(bundle)]) == 2


def test_write_replaces_a_symlinked_index_html_without_touching_its_target(tmp_path, st_bundle):
    """Write replaces a symlinked index html without touching its target."""
    bundle = copy_bundle(st_bundle, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (bundle / "web").mkdir()
    os.symlink(victim, bundle / "web" / "index.html")
    os.symlink(victim, bundle / "web" / "corpus.json")
    write_web_page(bundle, ["one sentence"])
    assert victim.read_text() == "precious"
    assert not (bundle / "web" / "index.html").is_symlink()
    assert b"importmap" in (bundle / "web" / "index.html").read_bytes()
    assert (bundle / "web" / "corpus.json").read_text() == '["one sentence"]'
    assert oct((bundle / "web" / "index.html").stat().st_mode & 0o777) != "0o600"
    assert not list((bundle / "web").glob(".*.tmp"))


def test_lite_page_needs_no_npm(tmp_path, st_bundle, monkeypatch):
    """Without node_modules the lite page is complete (vendored tokenizer); --ort names the npm command."""
    bundle = copy_bundle(st_bundle, tmp_path)
    monkeypatch.setenv(NODE_MODULES_ENV, str(tmp_path / "no-node-modules"))
    web = write_web_page(bundle)
    assert sorted(p.name for p in (web / "vendor").iterdir()) == sorted(LITE_VENDOR_FILES)
    assert all((web / name).is_file() for name in PAGE_FILES)
    with pytest.raises(FileNotFoundError, match="npm ci"):
        write_web_page(bundle, ort=True)
    assert not any((web / "vendor" / name).exists() for name in ORT_VENDOR_FILES.values())


def test_web_ort_without_node_modules_is_one_clear_line(tmp_path, st_bundle, monkeypatch, capsys):
    """Web onnxruntime without Node modules is one clear line."""
    bundle = copy_bundle(st_bundle, tmp_path)
    monkeypatch.setenv(NODE_MODULES_ENV, str(tmp_path / "no-node-modules"))
    assert main(["web", str(bundle), "--ort"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "npm ci" in err and "lite page needs no npm" in err


@pytest.mark.parametrize(("args", "message"), [(["--port", "70000"], "--port"), (["--corpus", "latin1.txt"], "UTF-8")])
def test_web_bad_arguments_are_one_clear_line(tmp_path, st_bundle, capsys, args, message):
    """Web bad arguments are one clear line."""
    bundle = copy_bundle(st_bundle, tmp_path)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    args = [str(tmp_path / a) if a.endswith(".txt") else a for a in args]
    assert main(["web", str(bundle), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_vendored_tokenizer_matches_npm():
    """runtimes/web/vendor/tokenizers.min.mjs is the npm package's file, unmodified (update both together)."""
    from static_edge.runtimes.web_page import WEB_SOURCE, node_modules

    try:
        modules = node_modules(("@huggingface/tokenizers/dist/tokenizers.min.mjs",))
    except FileNotFoundError:
        pytest.skip("node_modules is not installed")
    vendored = WEB_SOURCE / "vendor" / "tokenizers.min.mjs"
    assert vendored.read_bytes() == (modules / "@huggingface/tokenizers/dist/tokenizers.min.mjs").read_bytes()
    assert Path(WEB_SOURCE / "vendor" / "tokenizers.LICENSE.txt").read_text().lstrip().startswith("Apache License")


@pytest.mark.slow  # end to end: a real server
def test_a_client_that_drops_the_connection_is_no_traceback(tmp_path, capsys):
    """A client that drops the connection is no traceback."""
    import struct
    import time

    (tmp_path / "big.bin").write_bytes(os.urandom(8 << 20))
    with served(tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            client.recv(1024)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not close
            client.close()
        time.sleep(0.5)
        assert http.client.HTTPConnection("127.0.0.1", port, timeout=10).request("HEAD", "/big.bin") is None
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err and "BrokenPipe" not in err
