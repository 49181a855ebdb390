"""The server app on a real uvicorn in a thread on 127.0.0.1: health, overload, metrics, heavy requests, any body."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import run_async, running, start_server, stop_server

from static_edge.runtimes import load
from static_edge.runtimes.server_app import ServerLimits, create_app

pytestmark = pytest.mark.slow  # end to end: a real uvicorn server


class Held:
    """A model whose encoding waits for `release` (so a test can fill the queue), or always fails."""

    def __init__(self, model, fail: bool = False):
        self.model, self.fail, self.release = model, fail, threading.Event()
        self.dims, self.manifest, self.variant, self.backend = model.dims, model.manifest, model.variant, model.backend

    def tokenize(self, texts):
        """Tokenize once `release` is set: holds a batch in flight."""
        self.release.wait(20)
        return self.model.tokenize(texts)

    def embed_tokens(self, ids, lengths, batch_size=1024):
        """The real model's embedding of the batch."""
        return self.model.embed_tokens(ids, lengths, batch_size)

    def encode(self, texts):
        """The real model's vectors, or a failure when `fail` is set."""
        if self.fail:
            raise RuntimeError("the table went missing")
        return self.model.encode(texts)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` with `labels`, parsed by prometheus-client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_health_fails_when_the_model_cannot_encode(st_bundle):
    """Health fails when the model cannot encode."""
    broken = Held(load(st_bundle), fail=True)
    broken.release.set()
    with running(create_app(broken, "m")) as base:
        health = httpx.get(f"{base}/health")
    assert health.status_code == 503 and health.json()["status"] == "error"
    assert "table went missing" in health.json()["message"]
    with running(create_app(load(st_bundle), "m")) as base:
        assert httpx.get(f"{base}/health").json()["status"] == "ok"


def test_a_full_queue_answers_429_with_retry_after_before_any_work(st_bundle):
    """A full queue answers 429 with retry after before any work."""
    held = Held(load(st_bundle))
    app = create_app(held, "m", ServerLimits(max_queued_texts=4))

    async def scenario(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            first = asyncio.create_task(client.post("/v1/embeddings", json={"input": ["a", "b", "c"]}))
            while app.batcher.queued_texts < 3:
                await asyncio.sleep(0.01)
            over = await client.post("/v1/embeddings", json={"input": ["d", "e"]})
            tei_over = await client.post("/embed", json={"inputs": ["d", "e"]})
            fits = asyncio.create_task(client.post("/embed", json={"inputs": ["f"]}))
            await asyncio.sleep(0.05)
            held.release.set()
            return [over, tei_over, await first, await fits, await client.get("/metrics")]

    with running(app) as base:
        over, tei_over, first, fits, metrics = run_async(scenario(base))
    assert over.status_code == 429 and over.headers["retry-after"] == "1"
    assert over.json()["error"]["code"] == "rate_limit_exceeded"
    assert tei_over.status_code == 429 and tei_over.json()["error_type"] == "Overloaded"
    assert first.status_code == 200 and fits.status_code == 200
    assert metric(metrics.text, "static_edge_texts_total") == 4, "refused texts were never encoded"
    assert metric(metrics.text, "static_edge_errors_total", code="429") == 2


def test_metrics_count_requests_texts_and_stage_times(st_bundle):
    """Metrics count requests texts and stage times."""
    with running(create_app(load(st_bundle), "m")) as base:
        before = httpx.get(f"{base}/metrics").text
        for _ in range(3):
            assert httpx.post(f"{base}/v1/embeddings", json={"input": ["one text", "two texts"]}).status_code == 200
        httpx.post(f"{base}/v1/embeddings", json={"input": []})
        after = httpx.get(f"{base}/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    route = {"route": "/v1/embeddings"}
    assert metric(before, "static_edge_requests_total", **route) == 0
    assert metric(text, "static_edge_requests_total", code="200", **route) == 3
    assert metric(text, "static_edge_requests_total", code="400", **route) == 1
    assert metric(text, "static_edge_texts_total") == 6 and metric(text, "static_edge_tokens_total") >= 6
    for stage in ("tokenize", "encode", "queue"):
        assert metric(text, f"static_edge_{stage}_seconds_count") >= 1
    assert metric(text, "static_edge_queue_texts") == 0


def test_a_heavy_request_does_not_delay_health(st_bundle):
    """A request that takes seconds (long texts, then a large response) leaves /health answering promptly."""
    model = load(st_bundle)
    limits = ServerLimits(max_tokens_per_text=2_000_000, max_tokens_per_request=20_000_000, max_bytes=64 << 20)
    words = "the quick brown fox jumps over the lazy dog " * 20_000
    heavy = {"input": [words] * 40 + ["short"] * 2000, "encoding_format": "float"}

    async def scenario(base: str) -> tuple[httpx.Response, list[float]]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            await client.get("/health")
            task = asyncio.create_task(client.post("/v1/embeddings", json=heavy))
            latencies = []
            while not task.done():
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)
            return await task, latencies

    with running(create_app(model, "m", limits)) as base:
        started = time.perf_counter()
        response, latencies = run_async(scenario(base))
        took = time.perf_counter() - started
    assert response.status_code == 200 and len(response.json()["data"]) == 2040
    assert took > 0.5 and len(latencies) >= 5, f"the heavy request took {took:.2f} s: too short to tell"
    assert statistics.median(latencies) < 0.05, f"/health took {statistics.median(latencies) * 1000:.1f} ms"


BUSY_CLIENTS = """
import asyncio, sys, httpx
async def main(base):
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        async def busy(i):
            for _ in range(10):
                await client.post("/v1/embeddings", json={"input": [f"busy text {i}"]})
        print("started", flush=True)
        await asyncio.gather(*(busy(i) for i in range(200)))
asyncio.run(main(sys.argv[1]))
"""


def test_slow_clients_do_not_starve_a_normal_one(st_bundle):
    """500 connections that never finish their headers and 200 busy clients (another process): a normal request
    is still answered in under a second."""
    import subprocess
    import sys

    process, url = start_server(st_bundle, "--no-access-log")
    base = url.removesuffix("/v1")
    port = int(base.rsplit(":", 1)[1])
    slow, busy = [], None
    try:
        for _ in range(500):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            slow.append(sock)
        busy = subprocess.Popen([sys.executable, "-c", BUSY_CLIENTS, base], stdout=subprocess.PIPE, text=True)
        assert busy.stdout.readline().strip() == "started"
        time.sleep(0.3)
        took = []
        with httpx.Client(base_url=base, timeout=30) as normal:
            for _ in range(5):
                started = time.perf_counter()
                assert normal.post("/v1/embeddings", json={"input": "normal"}).status_code == 200
                took.append(time.perf_counter() - started)
        assert busy.poll() is None, "the busy clients were still running while the normal one was timed"
        assert busy.wait(timeout=120) == 0
    finally:
        if busy is not None and busy.poll() is None:
            busy.kill()
            busy.wait()
        for sock in slow:
            sock.close()
        stop_server(process)
    assert max(took) < 1.0, f"normal requests took {[round(t, 3) for t in took]} s"


BODIES = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
        max_leaves=20,
    ).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"input": st.one_of(st.text(max_size=40), st.lists(st.text(max_size=40), max_size=70), st.integers())},
        optional={
            "dimensions": st.integers(-5, 300),
            "encoding_format": st.sampled_from(["float", "base64", "hex"]),
            "model": st.sampled_from(["m", "other"]),
            "inputs": st.lists(st.text(max_size=20), max_size=3),
            "truncate": st.booleans(),
            "normalize": st.booleans(),
        },
    ).map(lambda value: json.dumps(value).encode()),
)


@pytest.fixture(scope="module")
def fuzz_server(st_bundle) -> Iterator[str]:
    """The app served in-process for the property tests; its base URL."""
    with running(create_app(load(st_bundle), "m", ServerLimits(max_texts=64))) as base:
        yield base


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, path=st.sampled_from(["/v1/embeddings", "/embed", "/"]))
def test_any_json_body_gets_vectors_or_a_clear_client_error(fuzz_server, body, path):
    """Any JSON body gets vectors or a clear client error."""
    response = httpx.post(f"{fuzz_server}{path}", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400, 404, 413, 422), response.text
    payload = response.json()
    if response.status_code == 200:
        rows = payload["data"] if path == "/v1/embeddings" else payload
        vectors = [row["embedding"] for row in rows] if path == "/v1/embeddings" else rows
        assert vectors and all(isinstance(v, list | str) for v in vectors)
        if isinstance(vectors[0], list):
            assert np.isfinite(np.array(vectors, dtype=np.float32)).all()
    else:
        message = payload["error"]["message"] if path == "/v1/embeddings" else payload["error"]
        assert isinstance(message, str) and message and "Traceback" not in message
