"""Load test of `static-edge serve`: requests/s and p50/p99 latency over a concurrency sweep, on 127.0.0.1.

    python -m benchmarks.server_load --bundle quickstart/bundle-256-int8

Starts the server in its own process group on a free loopback port, sends a bounded number of
`POST /v1/embeddings` requests per concurrency level (one query per request, and batches of 32 texts) with
httpx, and stops the server at the end. Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus_data import short_sentences
from static_edge.runtimes.results import write_results

LEVELS = (1, 2, 4, 8, 16, 32)


def start_server(bundle: Path) -> tuple[subprocess.Popen, str]:
    code = "import sys; from static_edge.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", str(bundle), "--port", "0", "--model-name", "bench"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    found = re.search(r"(http://\S+/v1)", process.stdout.readline())
    if not found:
        os.killpg(process.pid, signal.SIGKILL)
        raise SystemExit("the server did not start")
    return process, found.group(1)


async def sweep_level(url: str, texts: list[str], per_request: int, concurrency: int, requests: int) -> dict:
    import httpx

    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            batch = [texts[(i * per_request + k) % len(texts)] for k in range(per_request)]
            start = time.perf_counter()
            body = {"model": "bench", "input": batch, "encoding_format": "base64"}
            response = await client.post(f"{url}/embeddings", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        await client.post(f"{url}/embeddings", json={"model": "bench", "input": texts[:per_request]})
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "texts per request": per_request,
        "concurrency": concurrency,
        "requests": requests,
        "requests/s": requests / seconds,
        "texts/s": requests * per_request / seconds,
        "p50 ms": float(np.percentile(ms, 50)),
        "p99 ms": float(np.percentile(ms, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    texts = list(short_sentences(20_000))
    process, url = start_server(args.bundle)
    rows = []
    try:
        for per_request in (1, 32):
            for level in LEVELS:
                rows.append(asyncio.run(sweep_level(url, texts, per_request, level, args.requests)))
                print(rows[-1], flush=True)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    notes = [
        f"Load average during the run: {tuple(round(x, 1) for x in os.getloadavg())} on {os.cpu_count()} cores "
        "shared by the httpx client, the server and other work; numbers are a floor for a quiet machine.",
        "Each request is `POST /v1/embeddings` with short sentences (STS-B / multi30k style) and "
        '`"encoding_format": "base64"`, what the `openai` client sends by default; the server runs uvicorn with one '
        "worker process, encoding in its thread pool.",
    ]
    write_results(args.out, "server", title="static-edge serve: OpenAI-compatible embeddings under load",
                  command=f"python -m benchmarks.server_load --bundle {args.bundle} --requests {args.requests}",
                  rows=rows, notes=notes)  # fmt: skip
    plot(rows, args.out / "server.png")
    print(f"wrote {args.out / 'server.md'}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for per_request in sorted({r["texts per request"] for r in rows}):
        subset = [r for r in rows if r["texts per request"] == per_request]
        levels = [r["concurrency"] for r in subset]
        left.plot(levels, [r["requests/s"] for r in subset], marker="o", label=f"{per_request} text(s)/request")
        right.plot(levels, [r["p99 ms"] for r in subset], marker="o", label=f"{per_request} text(s)/request p99")
        right.plot(levels, [r["p50 ms"] for r in subset], marker=".", linestyle="--", label=f"{per_request} p50")
    for ax, label in ((left, "requests/s"), (right, "latency ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
