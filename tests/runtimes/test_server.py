"""`static-edge serve`: a real uvicorn server on 127.0.0.1, driven by the `openai` client and raw HTTP."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS

SERVE = "import sys; from static_edge.cli import main; sys.exit(main(sys.argv[1:]))"


def start_server(bundle: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`static-edge serve` on a free port in its own process group; returns it and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", str(bundle), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline()
    found = re.search(r"(http://\S+/v1)", line)
    if not found:
        stop_server(process)
        raise AssertionError(f"server did not start: {line!r} {process.stderr.read()!r}")
    return process, found.group(1)


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the whole group, SIGKILL after 10 s, and assert nothing of it is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, "a process of the server's group outlived it"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(st_bundle) -> Iterator[str]:
    process, url = start_server(st_bundle, "--model-name", "st-128", "--max-texts", "64", "--max-bytes", "20000")
    try:
        yield url
    finally:
        stop_server(process)


def test_openai_client_gets_the_vectors_of_load_encode(server, st_bundle):
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
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="unused", max_retries=0)
    full = load(st_bundle).encode(["stock markets fell", "a cat sleeps"])
    response = client.embeddings.create(model="st-128", input=["stock markets fell", "a cat sleeps"], dimensions=32)
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    want = full[:, :32] / np.linalg.norm(full[:, :32], axis=1, keepdims=True)
    assert got.shape == (2, 32)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_errors_are_clear_json(server):
    from openai import BadRequestError, NotFoundError, OpenAI

    client = OpenAI(base_url=server, api_key="unused", max_retries=0)
    with pytest.raises(NotFoundError, match="not served here"):
        client.embeddings.create(model="gpt-x", input="hi")
    with pytest.raises(BadRequestError, match="limit is 64 per request"):
        client.embeddings.create(model="st-128", input=["x"] * 65)
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
