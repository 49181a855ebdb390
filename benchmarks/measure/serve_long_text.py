"""Peak memory of `static-edge serve` for one long text: the server's RSS growth per request, by the text's tokens.

    python -m benchmarks.measure.serve_long_text --bundle quickstart/bundle-256-int8

One server (1 worker, limits raised to 2M tokens); before each request its peak-RSS mark is reset
(/proc/PID/clear_refs), after it the peak (VmHWM) minus the RSS before is the request's cost.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from benchmarks import common
from benchmarks.common import status_mb
from benchmarks.measure.server_load import start_server, stop_server

WORDS = (1_000, 10_000, 100_000, 300_000)
"""Repeats of a 3-word phrase: about 3.5 tokens each with the quickstart's WordPiece."""


def main() -> None:
    """Measure, write benchmarks/results/serve_long_text.md."""
    parser = common.parser(__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--words", default=",".join(map(str, WORDS)), help="comma-separated phrase repeats per text")
    args = parser.parse_args()
    limits = ["--max-tokens-per-text", "2000000", "--max-tokens-per-request", "2000000"]
    process, url = start_server(args.bundle, "--workers", "1", *limits, "--max-bytes", str(64 << 20))
    rows = []
    try:
        httpx.post(f"{url}/v1/embeddings", json={"model": "bench", "input": "warm up"}, timeout=60)
        for repeats in map(int, args.words.split(",")):
            text = " ".join(f"word{i % 997} the weather" for i in range(repeats))
            common.reset_peak_rss(process.pid)
            before = status_mb("VmRSS", process.pid)
            response = httpx.post(f"{url}/v1/embeddings", json={"model": "bench", "input": text}, timeout=300)
            response.raise_for_status()
            tokens = response.json()["usage"]["prompt_tokens"]
            grew = status_mb("VmHWM", process.pid) - before
            rows.append({"tokens": tokens, "body MB": len(text) / 1e6, "server RSS before MB": before,
                         "peak above before MB": grew})  # fmt: skip
            print(rows[-1], flush=True)
    finally:
        stop_server(process)
    notes = [
        "The request body is JSON (one string); the growth covers reading and parsing it, tokenizing (the text in "
        "pieces where the tokenizer allows it) and embedding in pieces of PIECE_TOKENS tokens.",
    ]
    title = "static-edge serve: peak memory of one long text"
    common.publish(
        args.out, "serve_long_text", "benchmarks.measure.serve_long_text", title=title, rows=rows, notes=notes
    )


if __name__ == "__main__":
    main()
