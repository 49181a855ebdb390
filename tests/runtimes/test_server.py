"""`static-edge serve`: a real uvicorn server on 127.0.0.1, driven by the `openai` client and raw HTTP."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from server_support import SERVE, start_server, stop_server

from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS

pytestmark = pytest.mark.slow  # end to end: a real uvicorn server


@pytest.fixture(scope="module")
def server(st_bundle) -> Iterator[str]:
    """A real `static-edge serve` process with small limits; its URL."""
    process, url = start_server(st_bundle, "--model-name", "st-128", "--max-texts", "64", "--max-bytes", "20000")
    try:
        yield url
    finally:
        stop_server(process)


def test_openai_client_gets_the_vectors_of_load_encode(server, st_bundle):
    """OpenAI client gets the vectors of load encode."""
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="unused", max_retries=0)
    texts = PARITY_TEXTS[:20]
    expected = load(st_bundle).encode(texts)
    # unasked, the client requests base64 and decodes it; "float" is JSON numbers; asked, base64 comes back raw
    for fmt in (None, "float", "base64"):
        options = {"encoding_format": fmt} if fmt else {}
        response = client.embeddings.create(model="st-128", input=texts, **options)
        rows = [d.embedding for d in sorted(response.data, key=lambda d: d.index)]
        if fmt == "base64":
            rows = [np.frombuffer(base64.b64decode(row), dtype="<f4") for row in rows]
        np.testing.assert_allclose(np.array(rows, dtype=np.float32), expected, atol=1e-6, rtol=0)
        assert response.model == "st-128" and response.usage.prompt_tokens > len(texts)
    single = client.embeddings.create(model="st-128", input="a dog runs in the park")
    np.testing.assert_allclose(single.data[0].embedding, load(st_bundle).encode("a dog runs in the park")[0], atol=1e-6)
    assert [m.id for m in client.models.list().data] == ["st-128"]


def test_dimensions_truncate_and_renormalize(server, st_bundle):
    """Dimensions truncate and renormalize."""
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="unused", max_retries=0)
    full = load(st_bundle).encode(["stock markets fell", "a cat sleeps"])
    response = client.embeddings.create(model="st-128", input=["stock markets fell", "a cat sleeps"], dimensions=32)
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    want = full[:, :32] / np.linalg.norm(full[:, :32], axis=1, keepdims=True)
    assert got.shape == (2, 32)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_errors_are_clear_json(server):
    """Errors are clear JSON."""
    from openai import APIStatusError, BadRequestError, NotFoundError, OpenAI

    client = OpenAI(base_url=server, api_key="unused", max_retries=0)
    with pytest.raises(NotFoundError, match="not served here"):
        client.embeddings.create(model="gpt-x", input="hi")
    with pytest.raises(APIStatusError, match="limit is 64 per request") as too_many:
        client.embeddings.create(model="st-128", input=["x"] * 65)
    assert too_many.value.status_code == 413
    with pytest.raises(BadRequestError, match="dimensions must be between 1 and 128"):
        client.embeddings.create(model="st-128", input="x", dimensions=129)
    with pytest.raises(BadRequestError, match="token ids are not accepted"):
        client.embeddings.create(model="st-128", input=[[1, 2, 3]])

    def post(body: bytes | str, **headers: str) -> httpx.Response:
        return httpx.post(f"{server}/embeddings", content=body, headers={"content-type": "application/json", **headers})

    too_big = post('{"input": "' + "a" * 30000 + '"}')
    assert too_big.status_code == 413 and "over the limit of 20,000" in too_big.json()["error"]["message"]
    not_json = post("{oops")
    assert not_json.status_code == 422 and not_json.json()["error"]["message"]
    wrong_type = post('{"input": 5}')
    assert wrong_type.status_code == 422 and "input" in wrong_type.json()["error"]["message"]
    empty = post('{"input": []}')
    assert empty.status_code == 400 and "input is empty" in empty.json()["error"]["message"]
    # DNS rebinding: a loopback server answers only loopback Host names
    assert post('{"input": "x"}', host="evil.example").status_code == 400
    health = httpx.get(server.removesuffix("/v1") + "/health").json()
    assert health["status"] == "ok" and health["dims"] == 128


def test_port_in_use_is_one_line(st_bundle, server):
    """Port in use is one line."""
    port = server.rsplit(":", 1)[1].split("/")[0]
    done = subprocess.run(
        [sys.executable, "-c", SERVE, "serve", str(st_bundle), "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "in use" in done.stderr


def test_tei_route_and_client_get_the_vectors_of_load_encode(server, st_bundle, monkeypatch):
    """TEI route and client get the vectors of load encode."""
    import huggingface_hub
    from huggingface_hub import InferenceClient

    base = server.removesuffix("/v1")
    texts = PARITY_TEXTS[:12]
    expected = load(st_bundle).encode(texts)
    raw = httpx.post(f"{base}/embed", json={"inputs": texts, "normalize": False})
    assert raw.status_code == 200
    np.testing.assert_array_equal(np.array(raw.json(), dtype=np.float32), expected)
    normalized = np.array(httpx.post(f"{base}/embed", json={"inputs": texts}).json(), dtype=np.float32)
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(normalized, expected / np.maximum(norms, 1e-12), atol=1e-6, rtol=0)
    # huggingface_hub's own TEI client (it refuses every URL in offline mode; this one is loopback)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    client = InferenceClient(model=base)
    got = client.feature_extraction("a dog runs in the park", normalize=False)
    np.testing.assert_array_equal(np.asarray(got, dtype=np.float32), load(st_bundle).encode("a dog runs in the park"))
    info = httpx.get(f"{base}/info").json()
    assert info["model_id"] == "st-128" and info["max_client_batch_size"] == 64


def test_tei_errors_and_truncation(server, st_bundle):
    """TEI errors and truncation."""
    base = server.removesuffix("/v1")
    too_many = httpx.post(f"{base}/embed", json={"inputs": ["x"] * 65})
    assert too_many.status_code == 413 and too_many.json()["error_type"] == "Validation"
    prompt = httpx.post(f"{base}/embed", json={"inputs": "x", "prompt_name": "query"})
    assert prompt.status_code == 422 and "prompt_name" in prompt.json()["error"]
    cut = httpx.post(f"{base}/embed", json={"inputs": "the quick brown fox", "dimensions": 16, "normalize": True})
    assert cut.status_code == 200 and len(cut.json()[0]) == 16
    assert np.linalg.norm(cut.json()[0]) == pytest.approx(1.0, abs=1e-5)


def test_text_plain_posts_from_other_origins_are_refused(server):
    """Text plain posts from other origins are refused."""
    base = server.removesuffix("/v1")
    # a page on another origin may POST text/plain without a CORS preflight: it must not be parsed
    for path in ("/v1/embeddings", "/embed"):
        forged = httpx.post(f"{base}{path}", content='{"input": "x", "inputs": "x"}',
                            headers={"content-type": "text/plain", "origin": "http://127.0.0.1:9999"})  # fmt: skip
        assert forged.status_code == 415 and "access-control-allow-origin" not in forged.headers
    preflight = httpx.options(f"{base}/embed", headers={"origin": "http://127.0.0.1:9999",
                                                         "access-control-request-method": "POST"})  # fmt: skip
    assert preflight.status_code >= 400 and "access-control-allow-origin" not in preflight.headers


def test_cors_origin_allows_only_that_origin(st_bundle):
    """Cors origin allows only that origin."""
    process, url = start_server(st_bundle, "--cors-origin", "http://127.0.0.1:9999")
    try:
        base = url.removesuffix("/v1")
        request = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        allowed = httpx.options(f"{base}/embed", headers={"origin": "http://127.0.0.1:9999", **request})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
        other = httpx.options(f"{base}/embed", headers={"origin": "http://127.0.0.1:8888", **request})
        assert "access-control-allow-origin" not in other.headers
        posted = httpx.post(f"{base}/embed", json={"inputs": "x"}, headers={"origin": "http://127.0.0.1:9999"})
        assert posted.status_code == 200 and posted.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
    finally:
        stop_server(process)


def test_api_key_is_required_and_compared(st_bundle, tmp_path):
    """API key is required and compared."""
    from openai import AuthenticationError, OpenAI

    key = "s3cret-key-for-tests"
    (tmp_path / "key.txt").write_text(key + "\n")
    process, url = start_server(st_bundle, "--api-key-file", str(tmp_path / "key.txt"), "--model-name", "m")
    try:
        assert OpenAI(base_url=url, api_key=key, max_retries=0).embeddings.create(model="m", input="hi").data
        for wrong in ("wrong-key-0000", key + "x", key[:-1]):
            with pytest.raises(AuthenticationError, match="API key"):
                OpenAI(base_url=url, api_key=wrong, max_retries=0).embeddings.create(model="m", input="hi")
        base = url.removesuffix("/v1")
        for path in ("/embed", "/v1/embeddings"):
            missing = httpx.post(f"{base}{path}", json={"input": "hi", "inputs": "hi"})
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{base}/metrics").status_code == 401
        assert httpx.get(f"{base}/metrics", headers={"authorization": f"Bearer {key}"}).status_code == 200
        assert httpx.get(f"{base}/health").status_code == 200, "health probes need no key"
    finally:
        stop_server(process)
    assert key not in process.stderr.read(), "the key is never logged"


def test_access_log_is_a_json_line_per_request_without_bodies(st_bundle):
    """Access log is a JSON line per request without bodies."""
    import json

    process, url = start_server(st_bundle, "--model-name", "m")
    try:
        httpx.post(f"{url}/embeddings", json={"input": ["secret text one", "secret text two"]})
        httpx.post(f"{url}/embeddings", json={"input": 5})
    finally:
        stop_server(process)
    lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
    posts = [line for line in lines if line["path"] == "/v1/embeddings"]
    assert [(p["status"], p["texts"]) for p in posts] == [(200, 2), (422, None)]
    assert posts[0]["tokens"] > 2 and posts[0]["ms"] > 0 and posts[0]["client"].startswith("127.0.0.1:")
    assert all("secret" not in json.dumps(line) for line in lines)


def test_sigterm_drains_an_in_flight_request(st_bundle):
    """SIGTERM drains an in flight request."""
    import socket

    process, url = start_server(st_bundle)
    host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    body = b'{"input": ["a request that is in flight when the server is told to stop"]}'
    head = (f"POST /v1/embeddings HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    try:
        with socket.create_connection((host, int(port)), timeout=30) as client:
            client.sendall(head + body[:10])  # the request has begun: headers and part of its body
            time.sleep(0.5)
            os.killpg(process.pid, signal.SIGTERM)
            time.sleep(0.5)
            assert process.poll() is None, "the server waits for the request in flight"
            client.sendall(body[10:])
            response = b""
            while chunk := client.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 200") and b'"embedding"' in response
        # uvicorn re-raises the signal once drained, so the exit status is the conventional one for SIGTERM
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.ConnectError):
            httpx.get(url.removesuffix("/v1") + "/health")
    finally:
        stop_server(process)


def test_workers_share_the_port_and_die_with_their_parent(st_bundle):
    """Workers share the port and die with their parent."""
    import psutil
    from prometheus_client.parser import text_string_to_metric_families

    process, url = start_server(st_bundle, "--workers", "2")
    try:
        children = psutil.Process(process.pid).children(recursive=True)
        deadline = time.monotonic() + 60
        while len([c for c in children if "spawn_main" in " ".join(c.cmdline())]) < 2:
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.2)
            children = psutil.Process(process.pid).children(recursive=True)
        expected = load(st_bundle).encode(["worker check"])
        with httpx.Client() as client:
            for _ in range(20):
                got = client.post(f"{url}/embeddings", json={"input": "worker check"}, timeout=30).json()
                np.testing.assert_allclose(got["data"][0]["embedding"], expected[0], atol=1e-6)
            text = client.get(url.removesuffix("/v1") + "/metrics").text
        counted = sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "static_edge_requests_total" and sample.labels.get("route") == "/v1/embeddings"
        )
        assert counted == 20, "the metrics of both workers are summed"
        workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        os.kill(process.pid, signal.SIGKILL)  # the parent dies without a chance to stop its workers
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, "a worker outlived its parent"
    finally:
        stop_server(process)


def test_one_long_text_costs_the_server_a_bounded_working_set(st_bundle):
    """One text of ~200,000 tokens: the server's peak RSS grows by tens of MB (a text is embedded in pieces), not by
    the ~2 KB a token it took when a text was embedded whole."""
    from pathlib import Path

    text = " ".join(f"word{i % 500} the weather" for i in range(70_000))
    process, url = start_server(st_bundle, "--max-tokens-per-text", "2000000", "--max-tokens-per-request", "2000000",
                                "--max-bytes", str(16 << 20), "--no-access-log")  # fmt: skip
    status = Path(f"/proc/{process.pid}/status")

    def status_mb(field: str) -> float:
        line = next(x for x in status.read_text().splitlines() if x.startswith(field + ":"))
        return int(line.split()[1]) / 1024

    try:
        assert httpx.post(f"{url}/embeddings", json={"input": "warm up"}).status_code == 200
        Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # the peak-RSS mark starts again from now
        before = status_mb("VmRSS")
        response = httpx.post(f"{url}/embeddings", json={"input": text}, timeout=120)
        assert response.status_code == 200
        tokens = response.json()["usage"]["prompt_tokens"]
        grew = status_mb("VmHWM") - before
    finally:
        stop_server(process)
    assert tokens > 150_000
    assert grew < 150, f"peak RSS grew by {grew:.0f} MB for one text of {tokens:,} tokens"
