"""Browser payload and query times of a bundle's search page, measured in headless Debian Chromium.

    python -m benchmarks.web_timing BUNDLE [--out benchmarks/results]

Writes BUNDLE/web/ (the page), serves the bundle on 127.0.0.1, opens the page, and records the
bytes it downloads (model and tokenizer files apart from the onnxruntime wasm), the time to a
ready index, the first query's time and the median of the following queries.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

QUERIES = [
    "is it going to rain tomorrow?",
    "cheap flights to the coast",
    "how do I fix a bug in my code",
    "football match result",
    "healthy food for dinner",
    "new phone with a good camera",
    "interest rates and inflation",
    "where can I walk my dog",
    "learning a new language",
    "election news",
]


def measure(bundle: Path, variant: str | None = None, rounds: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    from static_edge.runtimes.web_page import CHROMIUM, CHROMIUM_ARGS, serve_folder, write_web_page

    write_web_page(bundle)
    server = serve_folder(bundle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sizes: dict[str, int] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if urlparse(route.request.url).hostname == "127.0.0.1" else route.abort()
                ),
            )
            page.on("response", lambda r: sizes.__setitem__(urlparse(r.url).path, len(r.body())) if r.ok else None)
            query = f"?variant={variant}" if variant else ""
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/web/index.html{query}")
            page.wait_for_function(
                "window.staticEdge && (window.staticEdge.ready || window.staticEdge.error)", timeout=120_000
            )
            load_ms = page.evaluate("window.staticEdge.loadMs")
            times = page.evaluate(
                """async (queries) => {
                    const out = [];
                    for (const q of queries) { const t = performance.now(); await window.staticEdge.search(q);
                                               out.push(performance.now() - t); }
                    return out; }""",
                QUERIES * rounds,
            )
            info = page.evaluate(
                "({variant: window.staticEdge.model.variant, dims: window.staticEdge.model.dims,"
                " corpus: window.staticEdge.index.texts.length})"
            )
            browser.close()
    finally:
        server.shutdown()
    payload = {path: size for path, size in sizes.items() if not path.startswith("/web/")}
    return {
        **info,
        "payload_bytes": sum(payload.values()),
        "payload_files": payload,
        "wasm_and_js_bytes": sum(size for path, size in sizes.items() if path.startswith("/web/vendor/")),
        "load_and_index_ms": load_ms,
        "first_query_ms": times[0],
        "median_query_ms": statistics.median(times[1:]),
        "queries": len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--variant")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    result = measure(args.bundle, args.variant)
    command = "python -m benchmarks.web_timing " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "browser.json").write_text(json.dumps({"command": command, **result}, indent=2))
    lines = [
        "# Browser: payload and query time (headless Debian Chromium, onnxruntime-web wasm, 1 thread)",
        "",
        f"Command: `{command}`",
        "",
        f"Bundle: `{args.bundle}` ({result['variant']}, {result['dims']} dims); corpus of {result['corpus']} sentences",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| payload: model + tokenizer + configs | {result['payload_bytes'] / 1e6:.2f} MB |",
        f"| onnxruntime-web wasm + JS (cacheable, not counted above) | {result['wasm_and_js_bytes'] / 1e6:.2f} MB |",
        f"| load model and index the corpus | {result['load_and_index_ms']:.0f} ms |",
        f"| first query (encode + rank) | {result['first_query_ms']:.2f} ms |",
        f"| median query over {result['queries'] - 1} more | {result['median_query_ms']:.2f} ms |",
        "",
        "Files: " + ", ".join(f"`{p}` {s / 1e6:.2f} MB" for p, s in result["payload_files"].items()),
    ]
    (args.out / "browser.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
