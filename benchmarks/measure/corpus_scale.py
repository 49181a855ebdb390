"""Corpus scale: throughput of `encode` (1 core, all cores) against model2vec and Sentence Transformers on the same
model and texts, batch-1 speed, peak memory of the streaming file encode, and Ray Data with 1 and 2 actors.

    python -m benchmarks.measure.corpus_scale --bundle quickstart/bundle-256-int8 --lines 1000000

Every engine runs in a fresh subprocess on the same text file (so peak RSS is its own), timed around `encode`
after a warm-up. "1 core" pins the process to one CPU with taskset and turns tokenizer threads off. The peers
run the bundle's own fp32 table and tokenizer (static_edge.bench.peer_models), so all engines compute the same vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.measure.corpus import scifact_abstracts, short_sentences, write_lines

ENGINES = {
    "static-edge encode, all cores": ("static-edge", {}, False),
    "static-edge encode, 1 core": ("static-edge", {"TOKENIZERS_PARALLELISM": "false"}, True),
    "static-edge encode, tokenizers instead of nanotoken, all cores": (
        "static-edge",
        {"STATIC_EDGE_TOKENIZER": "tokenizers"},
        False,
    ),
    "model2vec StaticModel (use_multiprocessing=True)": ("model2vec", {}, False),
    "Sentence Transformers StaticEmbedding (torch)": ("sentence-transformers", {}, False),
}


def peak_rss_mb() -> float:
    """This process' peak RSS so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(engine: str, bundle: Path, texts_file: Path, one_core: bool) -> dict:
    """Time one engine on every line of `texts_file` (this process only)."""
    texts = texts_file.read_text(encoding="utf-8").splitlines()
    if engine == "static-edge":
        from static_edge.runtimes import load

        model = load(bundle, variant="fp32", threads=1 if one_core else 0)
        encode = model.encode
        library = model.tokenizer.library
    else:
        from static_edge.bench import peer_models

        st, m2v = peer_models(bundle)
        if engine == "model2vec":
            encode = lambda t: m2v.encode(t, batch_size=1024, use_multiprocessing=True)  # noqa: E731
        else:
            encode = lambda t: st.encode(t, batch_size=1024, convert_to_numpy=True)  # noqa: E731
        library = "tokenizers"
    encode(texts[:2000])
    before = peak_rss_mb()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "texts": len(texts), "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}
    result["cores_busy"] = (cpu_seconds() - cpu_before) / seconds
    result["output_mb"] = np.asarray(vectors).nbytes / 2**20
    result["tokenizer"] = library
    if engine == "static-edge":  # batch 1: one text per call, as a query server does
        result["batch1_per_s"] = batch_one(model.encode, texts[:3000])
    elif engine == "model2vec":
        result["batch1_per_s"] = batch_one(lambda t: m2v.encode(t, use_multiprocessing=True), texts[:3000])
    return result


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (model2vec's pool), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def batch_one(encode, texts: list[str]) -> float:
    """Texts/s encoding one text per call, after 200 warm-up calls."""
    for text in texts[:200]:
        encode([text])
    start = time.perf_counter()
    for text in texts:
        encode([text])
    return len(texts) / (time.perf_counter() - start)


def run_engine(name: str, bundle: Path, texts_file: Path) -> dict:
    """`worker` for one engine in a fresh process (pinned to one CPU for the 1-core row)."""
    engine, env, one_core = ENGINES[name]
    command = [sys.executable, "-m", "benchmarks.measure.corpus_scale", "--worker", engine, "--bundle", str(bundle)]
    command += ["--texts-file", str(texts_file)] + (["--one-core"] if one_core else [])
    if one_core:
        command = ["taskset", "-c", "0", *command]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_peak_rss(bundle: Path, texts_file: Path, work: Path) -> dict:
    """Peak RSS (GNU time) of `static-edge encode BUNDLE FILE -o out.parquet` and its rate."""
    out = work / f"{texts_file.stem}.parquet"
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "static_edge.cli", "encode", str(bundle)]
    command += [str(texts_file), "-o", str(out), "--force"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    rows = sum(1 for _ in texts_file.open(encoding="utf-8"))
    bar = "text/s" in done.stderr
    return {"texts": rows, "peak_rss_mb": peak_kb / 1024, "seconds": seconds, "progress_bar": bar}


def ray_rows(bundle: Path, texts_file: Path, work: Path, lines: int) -> list[dict]:
    """`encode_parquet` with 1 and 2 actors on the first `lines` texts, as four Parquet files."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    from static_edge.runtimes.ray_data import encode_parquet

    source = work / "ray-in"
    source.mkdir(exist_ok=True)
    texts = texts_file.read_text(encoding="utf-8").splitlines()[:lines]
    for i in range(4):  # four files, so both actors get work
        part = texts[i::4]
        pq.write_table(pa.table({"id": list(range(i, len(texts), 4)), "text": part}), source / f"{i}.parquet")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    rows = []
    try:
        encode_parquet(str(source), str(work / "ray-warm"), bundle, actors=1, cpus_per_actor=0.5)
        for actors in (1, 2):
            start = time.perf_counter()
            encode_parquet(str(source), str(work / f"ray-out-{actors}"), bundle, actors=actors, cpus_per_actor=0.5,
                           blocks=16)  # fmt: skip
            seconds = time.perf_counter() - start
            rows.append({"actors": actors, "texts": len(texts), "seconds": seconds, "texts/s": len(texts) / seconds})
    finally:
        ray.shutdown()
    return rows


def engine_rows(bundle: Path, corpora: dict[str, Path]) -> tuple[list[dict], list[dict]]:
    """Every engine on every corpus (one row each), and the batch-1 rates on the short sentences."""
    rows, batch1 = [], []
    for corpus, path in corpora.items():
        for name in ENGINES:
            print(f"{corpus}: {name}", flush=True)
            r = run_engine(name, bundle, path)
            rows.append({"texts": corpus, "engine": name, "texts/s": r["texts"] / r["seconds"], "seconds": r["seconds"],
                         "CPU s / wall s": r["cores_busy"], "peak RSS MB": r["peak_rss_mb"],
                         "tokenizer": r["tokenizer"]})  # fmt: skip
            if "batch1_per_s" in r and corpus.endswith("short sentences"):
                batch1.append({"engine": name, "texts/s at batch 1": r["batch1_per_s"]})
            print(rows[-1], flush=True)
    return rows, batch1


def notes(rows: list[dict], load_before: tuple[float, ...], load_after: tuple[float, ...]) -> list[str]:
    """The conditions of the run and the ratios between engines on the short sentences."""

    def rate(engine: str) -> float:
        return next(r["texts/s"] for r in rows if r["engine"] == engine and r["texts"].endswith("short sentences"))

    all_core, one_core = rate("static-edge encode, all cores"), rate("static-edge encode, 1 core")
    m2v = rate("model2vec StaticModel (use_multiprocessing=True)")
    return [
        f"nproc: {os.cpu_count()}; load average (1, 5, 15 min) before: {tuple(round(x, 1) for x in load_before)}, "
        f"after: {tuple(round(x, 1) for x in load_after)}. The 2 cores were shared with other work during the run, "
        "so ratios between engines (each run once, back to back) are the meaningful numbers.",
        f"On the short sentences: all cores / 1 core = {all_core / one_core:.2f}x; all cores / model2vec = "
        f"{all_core / m2v:.2f}x.",
        "CPU s / wall s is the CPU time the encode used (its threads and worker processes) per second of wall time: "
        "how many cores it kept busy. On a machine whose cores other work also uses, it shows what the code "
        "parallelizes even where the wall-clock gain cannot appear.",
        "Bundle variant fp32 for every static-edge row; model2vec and Sentence Transformers run the same fp32 table "
        "and tokenizer. The tokenizer column says which library tokenized (nanotoken only where its ids are "
        "identical, see tokenizer_compare.md).",
    ]


def main() -> None:
    """Every engine on both corpora, the file encode's memory and Ray Data; writes corpus_scale.md/.json/.png."""
    parser = common.parser(__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--ray-lines", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpus_scale"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--one-core", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        raise SystemExit("GNU time is needed for the peak-RSS rows: apt-get install time")
    if args.worker:
        print(json.dumps(worker(args.worker, args.bundle, args.texts_file, args.one_core)))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    short = write_lines(args.work / f"short-{args.lines}.txt", short_sentences(args.lines, data=args.data))
    fewer = min(100_000, args.lines)
    short_fewer = write_lines(args.work / f"short-{fewer}.txt", short_sentences(fewer, data=args.data))
    abstracts = (t.replace("\n", " ") for t in scifact_abstracts(args.data))
    scifact = write_lines(args.work / "scifact.txt", abstracts)
    load_before = os.getloadavg()
    corpora = {f"{args.lines:,} short sentences": short, "SciFact abstracts (5,183)": scifact}
    rows, batch1 = engine_rows(args.bundle, corpora)
    memory = []
    for path in dict.fromkeys((short_fewer, short)):
        r = cli_peak_rss(args.bundle, path, args.work)
        memory.append({"command": f"static-edge encode BUNDLE {path.name} -o out.parquet", **r})
        print(memory[-1], flush=True)
    ray_table = ray_rows(args.bundle, short, args.work, args.ray_lines)
    ray_title = f"Ray Data, {args.ray_lines:,} short sentences, Parquet in and out, local cluster of 2 CPUs"
    sections = {"Batch 1 (one text per call, 3,000 calls)": batch1,
                "Peak RSS of the streaming file encode (GNU time)": memory, ray_title: ray_table}  # fmt: skip
    common.publish(args.out, "corpus_scale", "benchmarks.measure.corpus_scale",
                   title="Corpus scale: encode throughput, memory and Ray Data", rows=rows,
                   notes=notes(rows, load_before, os.getloadavg()), sections=sections,
                   plot=lambda path: plot(rows, path))  # fmt: skip


def plot(rows: list[dict], path: Path) -> None:
    """Texts/s per engine, one panel per corpus."""
    corpora = list(dict.fromkeys(r["texts"] for r in rows))
    fig, axes = common.figure(len(corpora), (12, 3.5))
    for ax, corpus in zip(np.atleast_1d(axes), corpora, strict=True):
        subset = [r for r in rows if r["texts"] == corpus]
        ax.barh([r["engine"] for r in subset], [r["texts/s"] for r in subset], color="tab:blue")
        ax.set_title(corpus)
        ax.set_xlabel("texts/s (higher is better)")
        ax.invert_yaxis()
    common.save(fig, path, dpi=120)


if __name__ == "__main__":
    main()
