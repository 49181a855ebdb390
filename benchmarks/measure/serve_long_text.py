"""Peak memory of `static-edge serve` for one long text: the server's RSS growth per request, by the text's tokens.

    python -m benchmarks.measure.serve_long_text --bundle quickstart/bundle-256-int8

One server (1 worker, limits raised to 2M tokens); before each request its peak-RSS mark is reset
(/proc/PID/clear_refs), after it the peak (VmHWM) minus the RSS before is the request's cost.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx

from benchmarks.measure.server_load import start_server, stop_server
from static_edge.runtimes.results import write_results

WORDS = (1_000, 10_000, 100_000, 300_000)
"""Repeats of a 3-word phrase: about 3.5 tokens each with the quickstart's WordPiece."""


def status_mb(pid: int, field: str) -> float:
    """A /proc/PID/status field in MB."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def main() -> None:
    """Measure, write benchmarks/results/serve_long_text.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    limits = ["--max-tokens-per-text", "2000000", "--max-tokens-per-request", "2000000"]
    process, url = start_server(args.bundle, "--workers", "1", *limits, "--max-bytes", str(64 << 20))
    rows = []
    try:
        httpx.post(f"{url}/v1/embeddings", json={"model": "bench", "input": "warm up"}, timeout=60)
        for repeats in WORDS:
            text = " ".join(f"word{i % 997} the weather" for i in range(repeats))
            Path(f"/proc/{process.pid}/clear_refs").write_text("5")
            before = status_mb(process.pid, "VmRSS")
            response = httpx.post(f"{url}/v1/embeddings", json={"model": "bench", "input": text}, timeout=300)
            response.raise_for_status()
            tokens = response.json()["usage"]["prompt_tokens"]
            grew = status_mb(process.pid, "VmHWM") - before
            rows.append({"tokens": tokens, "body MB": len(text) / 1e6, "server RSS before MB": before,
                         "peak above before MB": grew})  # fmt: skip
            print(rows[-1], flush=True)
    finally:
        stop_server(process)
    notes = [
        "The request body is JSON (one string); the growth covers reading and parsing it, tokenizing (the text in "
        "pieces where the tokenizer allows it) and embedding in pieces of PIECE_TOKENS tokens.",
    ]
    command = f"python -m benchmarks.measure.serve_long_text --bundle {args.bundle}"
    title = "static-edge serve: peak memory of one long text"
    write_results(args.out, "serve_long_text", title=title, command=command, rows=rows, notes=notes)
    print(f"wrote {args.out / 'serve_long_text.md'}")


if __name__ == "__main__":
    main()
