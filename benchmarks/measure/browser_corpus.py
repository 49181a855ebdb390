"""The search page at corpus scale: `static-edge web --corpus` pages of 10,000 and 100,000 passages in headless
Debian Chromium, the corpus shipped encoded (int8, or sign bits + int8 rescoring above 8 MiB), so the page encodes
only queries.

    python -m benchmarks.measure.browser_corpus BUNDLE [--sizes 10000 100000] [--queries 20] [--out benchmarks/results]

Passages are distinct English image captions (multi30k train, `../shared/data/pairs`), queries captions of the
validation images. For each size and vector kind it writes the page into a copy of BUNDLE, serves it on 127.0.0.1
with the runtime's preview server and, in a fresh browser profile, measures:

- transfer: every byte the page downloads (page, runtime, model, tokenizer, passages, vectors), raw and gzip
  (level 6, per file), and the corpus files' share;
- load: navigation start to the page ready (model loaded and corpus vectors fetched and verified), and the page
  script's own `loadMs`; the number of texts the page encoded while loading (0: it never encodes the corpus);
- query: encode the query and rank every passage, median and 95th percentile over the queries (after 3 warm-ups);
- recall@10: the page's ranking (`web_corpus.rank`, which the page matches exactly) against exact float32 cosine
  search over the same passages, in Python.

For the smallest size it also times what the page did before: encoding the whole corpus in the page.

Writes browser_corpus.{md,json,png} into --out and the table into the "Corpus scale" section of browser.md.
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.measure.chromium import CHROMIUM, CHROMIUM_ARGS

CAPTIONS = "pairs/multi30k-captions"
READY = "() => window.staticEdge && (window.staticEdge.ready || window.staticEdge.error)"
TIME_QUERIES = """async (queries) => {
  const s = window.staticEdge, out = [];
  for (const q of queries.slice(0, 3)) await s.index.search(q, 10);
  for (const q of queries) {
    const t = performance.now(); await s.index.search(q, 10); out.push(performance.now() - t);
  }
  return out; }"""
ENCODE_IN_PAGE = """async (texts) => {
  const { VectorIndex } = await import("./static-edge.js");
  const index = new VectorIndex(window.staticEdge.model);
  const t = performance.now(); await index.add(texts); return performance.now() - t; }"""
SECTION_START = "<!-- browser_corpus: written by benchmarks.measure.browser_corpus -->"
SECTION_END = "<!-- /browser_corpus -->"


def captions(data: Path, split: str) -> list[str]:
    """Distinct captions of a multi30k split, in file order (caption 1 of every image first)."""
    seen: dict[str, None] = {}
    for k in range(1, 6):
        with gzip.open(data / CAPTIONS / f"{split}.{k}.en.gz", "rt", encoding="utf-8") as handle:
            seen.update((line.strip(), None) for line in handle if line.strip())
    return list(seen)


def measure(browser, base: str, bundle: Path, queries: list[str], encode_baseline: list[str] | None) -> dict:
    """One fresh browser profile: load the page, time the queries; returns the row's browser numbers."""
    context = browser.new_context()
    try:
        page = context.new_page()
        fetched: list[str] = []
        page.on("requestfinished", lambda request: fetched.append(request.url.split("/", 3)[3].split("?")[0]))
        page.goto(f"{base}/web/index.html")
        page.wait_for_function(READY, timeout=600_000)
        state = page.evaluate(
            "({error: window.staticEdge.error ?? null, readyAt: window.staticEdge.readyAt,"
            " loadMs: window.staticEdge.loadMs, corpusMs: window.staticEdge.corpusLoadMs,"
            " modelMs: window.staticEdge.modelLoadMs,"
            " encoded: window.staticEdge.encodedTexts, size: window.staticEdge.index.size})"
        )
        if state["error"]:
            raise RuntimeError(f"the page failed: {state['error']}")
        times = page.evaluate(TIME_QUERIES, queries)
        baseline = page.evaluate(ENCODE_IN_PAGE, encode_baseline) if encode_baseline else None
        raw, packed = common.served_sizes(bundle, sorted(fetched))
        corpus = [path for path in raw if path.lstrip("/").startswith("web/corpus")]
        return {
            **state,
            "query_ms": times,
            "encode_in_page_ms": baseline,
            "transfer": sum(raw.values()),
            "transfer_gzip": sum(packed.values()),
            "corpus_bytes": sum(raw[path] for path in corpus),
            "corpus_gzip": sum(packed[path] for path in corpus),
        }
    finally:
        context.close()


def recall_at_10(bundle: Path, passages: list[str], queries: list[str], shipped, manifest: dict) -> float:
    """Mean share of the exact float32 cosine top-10 (same variant's vectors) that the page's ranking returns."""
    from static_edge.runtimes import load
    from static_edge.runtimes.web_corpus import normalized, rank

    rescore = manifest["rescore"]
    model = load(bundle, variant=manifest["variant"])
    corpus = normalized(model.encode(passages))
    found = []
    for vector in model.encode(queries):
        exact = set(np.argsort(-(corpus @ normalized(vector[None])[0]), kind="stable")[:10].tolist())
        found.append(len(exact & {i for i, _ in rank(shipped, vector, 10, rescore)}) / 10)
    return float(np.mean(found))


def run(bundle: Path, sizes: list[int], kinds: list[str], data: Path, n_queries: int) -> list[dict]:
    """Every (size, kind): write the page into a copy of `bundle`, serve it, measure it."""
    from playwright.sync_api import sync_playwright

    from static_edge.runtimes.bundle import read_manifest
    from static_edge.runtimes.web_corpus import (
        BINARY_FILE,
        CORPUS_MANIFEST,
        INT8_FILE,
        choose_kind,
        read_corpus_vectors,
    )
    from static_edge.runtimes.web_page import write_web_page
    from static_edge.runtimes.web_server import serving

    pool = captions(data, "train")
    if max(sizes) > len(pool):
        raise SystemExit(f"only {len(pool):,} distinct captions: choose sizes up to that")
    queries = captions(data, "val")[:n_queries]
    manifest_dims = read_manifest(bundle).dims
    rows = []
    with tempfile.TemporaryDirectory(prefix="browser-corpus-") as work, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for size in sizes:
                passages = pool[:size]
                resolved = {choose_kind(size, manifest_dims, kind): kind for kind in reversed(kinds)}
                for kind in [k for k in kinds if k in resolved.values()]:
                    copy = shutil.copytree(bundle, Path(work) / f"{size}-{kind}", ignore=shutil.ignore_patterns("web"))
                    started = time.perf_counter()
                    web = write_web_page(copy, passages, vectors=kind)
                    write_s = time.perf_counter() - started
                    names = [CORPUS_MANIFEST, INT8_FILE] + ([BINARY_FILE] if (web / BINARY_FILE).exists() else [])
                    manifest, shipped = read_corpus_vectors({n: (web / n).read_bytes() for n in names})
                    baseline = passages if size == min(sizes) and kind == kinds[0] else None
                    with serving(copy) as base:
                        result = measure(browser, base, copy, queries, baseline)
                    recall = recall_at_10(copy, passages, queries, shipped, manifest)
                    rows.append(row(size, manifest, result, write_s, recall))
                    rows[-1]["_auto"] = choose_kind(size, manifest_dims) == manifest["vectors"]
                    print(rows[-1], flush=True)
                    shutil.rmtree(copy)
        finally:
            browser.close()
    return rows


def row(size: int, manifest: dict, result: dict, write_s: float, recall: float) -> dict:
    """The table row of one page."""
    times = sorted(result["query_ms"])
    vectors = "sign bits + int8 rescoring" if manifest["vectors"] == "binary" else "int8"
    return {
        "passages": size,
        "vectors": vectors,
        "transfer raw / gzip (MB)": f"{result['transfer'] / 1e6:.1f} / {result['transfer_gzip'] / 1e6:.1f}",
        "of which corpus raw / gzip (MB)": f"{result['corpus_bytes'] / 1e6:.1f} / {result['corpus_gzip'] / 1e6:.1f}",
        "page ready (ms)": round(result["readyAt"]),
        "corpus fetched + verified (ms)": round(result["corpusMs"]),
        "texts encoded while loading": result["encoded"],
        "median query (ms)": round(statistics.median(times), 2),
        "p95 query (ms)": round(times[max(0, int(0.95 * len(times)) - 1)], 2),
        "recall@10 vs float32": f"{recall:.3f}",
        "static-edge web (s)": round(write_s, 1),
        "_encode_in_page_ms": result["encode_in_page_ms"],
        "_transfer": result["transfer"],
        "_query_ms": result["query_ms"],
    }


def plot(rows: list[dict], path: Path) -> None:
    """Page ready and median query per page."""
    labels = [f"{r['passages']:,} {r['vectors']}" for r in rows]
    fig, axes = common.figure(2, (12, 0.6 * len(rows) + 2), sharey=True)
    y = range(len(rows))
    axes[0].barh(list(y), [r["page ready (ms)"] for r in rows], color="tab:blue")
    axes[0].set_xlabel("navigation start to page ready (ms)")
    axes[1].barh(list(y), [r["median query (ms)"] for r in rows], color="tab:green")
    axes[1].axvline(50, color="red", linestyle="--", linewidth=1, label="50 ms target")
    axes[1].set_xlabel("median query: encode + rank every passage (ms)")
    axes[1].legend(loc="lower right")
    axes[0].set_yticks(list(y), labels)
    axes[0].invert_yaxis()
    fig.suptitle("static-edge web with shipped corpus vectors, headless Chromium")
    common.save(fig, path, dpi=110)


def notes(
    bundle: Path, built_with: str, rows: list[dict], load_average: tuple[float, float], n_queries: int
) -> list[str]:
    """The conditions under the table."""
    built = f", built with `{built_with}`" if built_with else ""
    out = [
        f"Bundle: `{bundle}`{built} (its default variant, which the page loads, encodes the queries and, in Python, "
        "the corpus). "
        f"Passages: distinct multi30k training captions; {n_queries} queries: validation captions, each timed once "
        "after 3 warm-up queries (encode the query, rank every passage, keep the top 10). Fresh browser profile per "
        "row; the preview server of `static-edge web --serve` on 127.0.0.1, no compression (gzip column: what a "
        "server sending gzip level 6 would transfer).",
        f"Machine load average {load_average[0]:.1f} at start, {load_average[1]:.1f} at the end (2 CPU cores shared "
        "with other work: absolute times are inflated; compare rows).",
    ]
    picks = {r["passages"]: r["vectors"] for r in rows if r["_auto"]}
    out.append(
        "What `static-edge web` picks by itself (`--vectors auto`: sign bits above 8 MiB of int8 vectors): "
        + "; ".join(f"{size:,} passages: {kind}" for size, kind in picks.items())
        + ". The other rows force the other kind, for comparison. Transfer grows with the corpus (about 360 bytes "
        "a passage at 256 dims: int8 vectors, sign bits and the text), so a million passages (not measured) would "
        "be a download of hundreds of MB, not a page."
    )
    baseline = next((r for r in rows if r["_encode_in_page_ms"]), None)
    if baseline:
        out.append(
            f"Before this change the page encoded its corpus at every load: encoding the {baseline['passages']:,} "
            f"passages in the page (VectorIndex.add, lite engine) takes {baseline['_encode_in_page_ms']:,.0f} ms on "
            "this machine, on top of loading the model; the page now encodes none of them (column 'texts encoded "
            "while loading')."
        )
    return out


def write_section(out: Path, md: Path) -> None:
    """Put the table (without its title) into browser.md between the section markers, replacing an older one."""
    target = out / "browser.md"
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    body = md.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    section = f"{SECTION_START}\n## Corpus scale: the corpus shipped encoded\n\n{body}\n{SECTION_END}"
    if SECTION_START in text and SECTION_END in text:
        before, rest = text.split(SECTION_START, 1)
        text = before + section + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    target.write_text(text, encoding="utf-8")


def main() -> None:
    """The command line: build, serve and measure a page per size."""
    parser = common.parser(__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--kinds", nargs="+", default=["auto"], choices=["auto", "int8", "binary"])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--built-with", default="", help="the command that built the bundle, for the notes")
    args = parser.parse_args()
    start = os.getloadavg()[0]
    rows = run(args.bundle, args.sizes, args.kinds, args.data, args.queries)
    load_average = (start, os.getloadavg()[0])
    columns = [c for c in rows[0] if not c.startswith("_")]
    md = common.publish(
        args.out,
        "browser_corpus",
        "benchmarks.measure.browser_corpus",
        title="Browser search at corpus scale: the corpus shipped encoded (headless Debian Chromium)",
        rows=rows,
        columns=columns,
        notes=notes(args.bundle, args.built_with, rows, load_average, args.queries),
        plot=lambda path: plot(rows, path),
    )
    write_section(args.out, md)


if __name__ == "__main__":
    main()
