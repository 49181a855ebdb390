"""The browser table: the lite engine vs onnxruntime-web on one bundle, in headless Debian Chromium.

    python -m benchmarks.measure.browser BUNDLE [--out benchmarks/results] [--rounds 20]

For each configuration (engine x variant, plus onnxruntime-web with one thread vs its default threads in
the cross-origin-isolated page, and the lite engine in a Web Worker) it writes BUNDLE/web/ (with
onnxruntime-web vendored), serves the bundle with the runtime's own server on 127.0.0.1, and in a fresh
browser profile measures:

- cold transfer: every byte the page downloads (page, runtime code, engine, model, tokenizer, corpus), raw
  and gzip-compressed (level 6, as a typical server would send it);
- load: `StaticEmbedder.load()` (fetch, sha256 checks, table or session), and the page ready (navigation
  start to the corpus indexed);
- first query and the median of the following queries (encode one query + rank the corpus), and for the
  lite engine where a query's time goes (tokenizer, gather + mean, ranking);
- warm reload: later visits in the same profile (bundle files from Cache Storage, verified again):
  `StaticEmbedder.load()`, navigation start to the model loaded, and to the page ready; medians of 5 visits.

No request interception (playwright's routing would disable the HTTP cache and slow every request): the
page's own CSP (connect-src 'self') keeps it on 127.0.0.1, and any response from elsewhere fails the run.

Writes browser.json, browser.md and browser.png into --out; every number is from one run on this machine.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from urllib.parse import urlparse

from benchmarks import common
from benchmarks.measure.chromium import CHROMIUM, CHROMIUM_ARGS

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
WARM_VISITS = 5
"""Second visits per configuration; the table gives their medians."""
READY = "() => window.staticEdge && (window.staticEdge.ready || window.staticEdge.error)"
BREAKDOWN = """async (queries) => {
  const s = window.staticEdge, m = s.model, out = {tokenize: [], embed: [], rank: []};
  for (const q of queries) {
    let t = performance.now(); const ids = m.tokenize([q]); out.tokenize.push(performance.now() - t);
    t = performance.now(); m.model.embed(ids); out.embed.push(performance.now() - t);
    t = performance.now(); await s.index.search(q, 10); const all = performance.now() - t;
    out.rank.push(all);
  }
  return out; }"""
TIME_QUERIES = """async (queries) => {
  const out = [];
  for (const q of queries) {
    const t = performance.now(); await window.staticEdge.search(q); out.push(performance.now() - t);
  }
  return out; }"""


def configurations(variants: list[str]) -> list[dict]:
    """What to measure: every variant on the lite engine, the small ones on onnxruntime-web."""
    configs = [{"engine": "lite", "variant": v} for v in variants]
    configs.append({"engine": "lite", "variant": variants[-1], "worker": True})
    for variant in [v for v in ("int8", "int4") if v in variants]:
        configs.append({"engine": "ort", "variant": variant})
        configs.append({"engine": "ort", "variant": variant, "threads": 1})
    return configs


def label(config: dict) -> str:
    """The row name of a configuration, e.g. "ort int8 (1 thread)"."""
    name = f"{config['engine']} {config['variant']}"
    if config.get("worker"):
        name += " (worker)"
    if "threads" in config:
        name += f" ({config['threads']} thread)"
    elif config["engine"] == "ort":
        name += " (default threads)"
    return name


def open_page(context, url: str, fetched: list[str]) -> object:
    """Open the page; `fetched` collects the path of every 200 response (all must come from 127.0.0.1)."""
    page = context.new_page()
    outside: list[str] = []

    def record(response) -> None:
        if urlparse(response.url).hostname != "127.0.0.1" and urlparse(response.url).scheme not in ("data", "blob"):
            outside.append(response.url)
        elif response.status == 200:
            fetched.append(urlparse(response.url).path)

    page.on("response", record)
    page.goto(url)
    page.wait_for_function(READY, timeout=180_000)
    error = page.evaluate("window.staticEdge.error ?? null")
    if error or outside:
        raise RuntimeError(f"{url}: {error or outside}")
    return page


def measure(browser, base: str, root: Path, config: dict, rounds: int) -> dict:
    """One configuration: a cold visit in a fresh profile (transfer, load, queries), then warm visits."""
    query = f"?engine={config['engine']}&variant={config['variant']}"
    if config.get("worker"):
        query += "&worker=1"
    if "threads" in config:
        query += f"&threads={config['threads']}"
    context = browser.new_context()
    try:
        cold: list[str] = []
        page = open_page(context, f"{base}/web/index.html{query}", cold)
        state = page.evaluate(
            "({load: window.staticEdge.modelLoadMs, ready: window.staticEdge.readyAt,"
            " loaded: window.staticEdge.modelLoadedAt, threads: window.staticEdge.model.model?.numThreads ?? null,"
            " isolated: crossOriginIsolated, corpus: window.staticEdge.index.texts.length})"
        )
        times = page.evaluate(TIME_QUERIES, QUERIES * rounds)
        breakdown = None
        if config["engine"] == "lite" and not config.get("worker"):
            parts = page.evaluate(BREAKDOWN, QUERIES * rounds)
            breakdown = {
                "tokenize_ms": statistics.median(parts["tokenize"]),
                "gather_mean_ms": statistics.median(parts["embed"]),
                "query_ms": statistics.median(parts["rank"]),
            }
        page.close()
        warm_visits = []
        for _ in range(WARM_VISITS):
            warm_paths: list[str] = []
            warm = open_page(context, f"{base}/web/index.html{query}", warm_paths)
            warm_visits.append(
                warm.evaluate(
                    "({loaded: window.staticEdge.modelLoadedAt, ready: window.staticEdge.readyAt,"
                    " load: window.staticEdge.modelLoadMs, cache: window.staticEdge.model.loadedFrom.cache})"
                )
            )
            warm.close()
        warm_state = {key: statistics.median(v[key] for v in warm_visits) for key in ("loaded", "ready", "load")}
        warm_state["cache"] = warm_visits[-1]["cache"]
    finally:
        context.close()
    raw, zipped = common.served_sizes(root, cold)
    return {
        "label": label(config),
        **config,
        "cold_bytes": sum(raw.values()),
        "cold_gzip_bytes": sum(zipped.values()),
        "files": raw,
        "files_gzip": zipped,
        "engine_bytes": sum(size for path, size in raw.items() if "/vendor/ort" in path),
        "load_ms": state["load"],
        "ready_ms": state["ready"],
        "corpus": state["corpus"],
        "threads": state["threads"],
        "cross_origin_isolated": state["isolated"],
        "first_query_ms": times[0],
        "median_query_ms": statistics.median(times[1:]),
        "queries": len(times),
        "breakdown": breakdown,
        "warm_loaded_ms": warm_state["loaded"],
        "warm_ready_ms": warm_state["ready"],
        "warm_load_call_ms": warm_state["load"],
        "warm_from_cache": warm_state["cache"],
        "warm_transfer_bytes": sum(common.served_sizes(root, warm_paths)[0].values()),
    }


def run(bundle: Path, rounds: int, variants: list[str] | None) -> dict:
    """Write the page (with onnxruntime-web), serve the bundle and measure every configuration."""
    from playwright.sync_api import sync_playwright
    from tqdm import tqdm

    from static_edge.runtimes import load
    from static_edge.runtimes.web_page import write_web_page
    from static_edge.runtimes.web_server import serving

    manifest = load(bundle).manifest
    start_load = os.getloadavg()[0]
    variants = variants or manifest.variants
    write_web_page(bundle, ort=True)
    rows = []
    with serving(bundle) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for config in tqdm(configurations(variants), desc="browser configurations"):
                rows.append(measure(browser, base, bundle, config, rounds))
        finally:
            browser.close()
    load_average = (start_load, os.getloadavg()[0])
    return {
        "bundle": str(bundle),
        "dims": manifest.dims,
        "vocab_size": manifest.vocab_size,
        "load_average": load_average,
        "rows": rows,
    }


def mb(n: float) -> str:
    """Bytes as megabytes for the table."""
    return f"{n / 1e6:.2f} MB"


def write_results(result: dict, command: str, out: Path) -> None:
    """browser.json, browser.md (tables, threads, targets) and browser.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "browser.json").write_text(json.dumps({"command": command, **result}, indent=2) + "\n")
    rows = result["rows"]
    lines = [
        "# Browser: lite engine vs onnxruntime-web (headless Debian Chromium)",
        "",
        f"Command: `{command}`",
        "",
        *([f"Bundle built with: `{result['built_with']}`", ""] if result.get("built_with") else []),
        f"Machine load average during the run: {result['load_average'][0]:.1f} at start, "
        f"{result['load_average'][1]:.1f} at the end (2 CPU cores shared with other work: times are inflated "
        "and noisy; compare rows, not absolute values).",
        "",
        f"Bundle: `{result['bundle']}` ({result['vocab_size']:,} tokens, {result['dims']} dims); corpus "
        f"{rows[0]['corpus']} sentences (the sample corpus); {rows[0]['queries']} queries per configuration "
        "(encode + rank the corpus). Cold: a fresh browser profile. Warm: the median of 5 later visits in the same "
        "profile (bundle files from Cache Storage, verified again). Every byte the page downloads counts "
        "(page, runtime, engine, model, tokenizer, corpus); gzip is level 6 per file. The server sends "
        "COOP/COEP, so the page is cross-origin isolated and onnxruntime-web may use threads.",
        "",
        "| configuration | cold transfer (raw) | cold (gzip) | of which engine | load() | page ready | first query | "
        "median query | warm: load() | warm: navigation to model loaded | warm: page ready |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {mb(r['cold_bytes'])} | {mb(r['cold_gzip_bytes'])} | {mb(r['engine_bytes'])} | "
            f"{r['load_ms']:.0f} ms | {r['ready_ms']:.0f} ms | {r['first_query_ms']:.2f} ms | "
            f"{r['median_query_ms']:.3f} ms | {r['warm_load_call_ms']:.0f} ms | {r['warm_loaded_ms']:.0f} ms | "
            f"{r['warm_ready_ms']:.0f} ms |"
        )
    lite = [r for r in rows if r["breakdown"]]
    if lite:
        lines += [
            "",
            "Where a lite query's time goes (medians; the clock ticks in 5 microseconds): the gather + mean is a "
            "few microseconds, so wasm SIMD would not pay; ranking the corpus takes most of a query.",
            "",
            "| configuration | tokenize | gather + mean | whole query (encode + rank) |",
            "|---|---:|---:|---:|",
        ]
        for r in lite:
            b = r["breakdown"]
            lines.append(
                f"| {r['label']} | {b['tokenize_ms']:.3f} ms | {b['gather_mean_ms']:.3f} ms | {b['query_ms']:.3f} ms |"
            )
    threads = {r["variant"]: r for r in rows if r["label"].endswith("(default threads)")}
    single = {r["variant"]: r for r in rows if r["label"].endswith("(1 thread)")}
    if threads:
        lines += ["", "onnxruntime-web threads (COOP/COEP make the page cross-origin isolated):", ""]
        for variant, r in threads.items():
            one = single.get(variant)
            if one:
                lines.append(
                    f"- {variant}: {r['threads']} threads {r['median_query_ms']:.3f} ms vs 1 thread "
                    f"{one['median_query_ms']:.3f} ms median query; load {r['load_ms']:.0f} vs {one['load_ms']:.0f} ms"
                )
    target = next((r for r in rows if r["engine"] == "lite" and r["variant"] == "int4" and not r.get("worker")), None)
    if target:
        checks = [
            ("total cold transfer <= 5 MB raw", target["cold_bytes"] <= 5e6, mb(target["cold_bytes"])),
            ("median query <= 0.5 ms", target["median_query_ms"] <= 0.5, f"{target['median_query_ms']:.3f} ms"),
            (
                "warm reload <= 150 ms, StaticEmbedder.load() on a later visit (median of 5)",
                target["warm_load_call_ms"] <= 150,
                f"{target['warm_load_call_ms']:.0f} ms",
            ),
            (
                "warm reload <= 150 ms, navigation start to model loaded (HTML, modules and load())",
                target["warm_loaded_ms"] <= 150,
                f"{target['warm_loaded_ms']:.0f} ms",
            ),
        ]
        lines += ["", "Targets (issue 11) for the lite page of the int4 bundle:", ""]
        lines += [f"- {name}: {value} ({'met' if ok else 'NOT met'})" for name, ok, value in checks]
    lines += ["", "Files of the cold load of each configuration are in browser.json; the plot is browser.png."]
    (out / "browser.md").write_text("\n".join(lines) + "\n" + kept_corpus_section(out / "browser.md"))
    plot(rows, out / "browser.png")
    print("\n".join(lines))


def kept_corpus_section(path: Path) -> str:
    """The corpus-scale section `benchmarks.measure.browser_corpus` wrote into `path`, to keep on a rewrite."""
    from benchmarks.measure.browser_corpus import SECTION_END, SECTION_START

    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if SECTION_START not in text or SECTION_END not in text:
        return ""
    return "\n" + SECTION_START + text.split(SECTION_START, 1)[1].split(SECTION_END, 1)[0] + SECTION_END + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Cold transfer, median query and load() per configuration, with the issue's targets as lines."""
    labels = [r["label"] for r in rows]
    fig, axes = common.figure(3, (16, 0.45 * len(rows) + 2), sharey=True)
    y = range(len(rows))
    axes[0].barh([i + 0.2 for i in y], [r["cold_bytes"] / 1e6 for r in rows], height=0.4, label="raw")
    axes[0].barh([i - 0.2 for i in y], [r["cold_gzip_bytes"] / 1e6 for r in rows], height=0.4, label="gzip")
    axes[0].axvline(5, color="red", linestyle="--", linewidth=1, label="5 MB target")
    axes[0].set_xlabel("cold transfer (MB)")
    axes[0].legend(loc="lower right")
    axes[1].barh(list(y), [r["median_query_ms"] for r in rows], color="tab:green")
    axes[1].axvline(0.5, color="red", linestyle="--", linewidth=1)
    axes[1].set_xlabel("median query (ms, log)")
    axes[1].set_xscale("log")
    axes[2].barh([i + 0.2 for i in y], [r["load_ms"] for r in rows], height=0.4, label="cold")
    axes[2].barh([i - 0.2 for i in y], [r["warm_load_call_ms"] for r in rows], height=0.4, label="warm (Cache Storage)")
    axes[2].axvline(150, color="red", linestyle="--", linewidth=1)
    axes[2].set_xlabel("StaticEmbedder.load() (ms, log)")
    axes[2].set_xscale("log")
    axes[2].legend(loc="lower right")
    axes[0].set_yticks(list(y), labels)
    axes[0].invert_yaxis()
    fig.suptitle("static-edge in headless Chromium: lite engine vs onnxruntime-web")
    common.save(fig, path, dpi=110)


def main() -> None:
    """The command line: measure BUNDLE and write the results."""
    parser = common.parser(__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--rounds", type=int, default=20, help="each of the 10 queries is timed this many times")
    parser.add_argument("--variants", nargs="+", help="variants for the lite engine (default: all in the bundle)")
    parser.add_argument("--built-with", default="", help="the command that built the bundle, for the table's notes")
    args = parser.parse_args()
    result = run(args.bundle, args.rounds, args.variants)
    result["built_with"] = args.built_with
    write_results(result, common.command_line("benchmarks.measure.browser"), args.out)


if __name__ == "__main__":
    main()
