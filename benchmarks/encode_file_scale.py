"""`static-edge encode` of a corpus file: one core against all cores, and peak memory with the cores kept busy.

    python -m benchmarks.encode_file_scale --bundle quickstart/bundle-256-int8 [--lines 1000000]

Each row runs the real command in a fresh process on the same file of short sentences (STS-B / captions style),
writing Parquet. "1 core" pins it to one CPU with taskset; "all cores, busy machine" runs it while another process
keeps every core busy (one spinning worker per core). Peak RSS is the command's own (getrusage of the child).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.corpus_data import short_sentences, write_lines
from static_edge.runtimes.results import write_results

SCENARIOS = ("1 core", "all cores", "all cores, busy machine")


def _spin() -> None:
    while True:
        pass


def run_encode(bundle: Path, texts: Path, output: Path, scenario: str) -> dict:
    """One `static-edge encode` run; wall seconds and the child's peak RSS."""
    command = [sys.executable, "-m", "static_edge.cli", "encode", str(bundle), str(texts), "-o", str(output), "--force"]
    if scenario == "1 core":
        command = ["taskset", "-c", "0", *command]
    spinners = []
    if scenario.endswith("busy machine"):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)]
        for spinner in spinners:
            spinner.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "scenario": scenario,
        "seconds": seconds,
        "texts/s": count_lines(texts) / seconds,
        "peak RSS MB": after.ru_maxrss / 1024,
        "CPU s / wall s": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / seconds,
    }


def count_lines(path: Path) -> int:
    """Lines in a file."""
    with path.open("rb") as f:
        return sum(1 for _ in f)


def main() -> None:
    """Run the three scenarios, write benchmarks/results/encode_file_scale.md/.json and its PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.cache/encode_file_scale"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed for the one-core row")
    args.work.mkdir(parents=True, exist_ok=True)
    texts = args.work / f"short-{args.lines}.txt"
    if not texts.exists():
        write_lines(texts, short_sentences(args.lines))
    rows = []
    for scenario in SCENARIOS:
        rows.append(run_encode(args.bundle, texts, args.work / "out.parquet", scenario))
        print(json.dumps(rows[-1]), flush=True)
    (args.work / "out.parquet").unlink(missing_ok=True)
    write_results(args.out, "encode_file_scale", title="static-edge encode: a corpus file on one core and on all",
                  command=f"python -m benchmarks.encode_file_scale --bundle {args.bundle} --lines {args.lines}",
                  rows=rows, notes=notes(args.bundle, texts, rows))  # fmt: skip
    plot(rows, args.out / "encode_file_scale.png")
    print(f"wrote {args.out / 'encode_file_scale.md'}")


def notes(bundle: Path, texts: Path, rows: list[dict]) -> list[str]:
    """The conditions and the ratio, measured in this run."""
    from static_edge.runtimes import load

    model = load(bundle)
    sample = texts.read_text(encoding="utf-8").splitlines()[:20_000]
    _, lengths = model.tokenize(sample)
    chars = sum(map(len, sample)) / len(sample)
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    return [
        f"All cores / 1 core = {speedup:.2f}x on {os.cpu_count()} cores, in this run.",
        f"Bundle variant {model.variant} ({model.dims} dims, the CPU default), tokenizer {model.tokenizer.library}, "
        f"texts of {chars:.0f} characters and {lengths.mean():.1f} tokens on average, float32 Parquet output.",
        "Three stages overlap: reading and tokenizing the next chunk, embedding this one (batches on every core), "
        "writing the previous one (an Arrow part for --resume, and its Parquet row groups straight into the output); "
        "each at most two chunks of 32,768 texts deep. CPU s / wall s under 1 on one core is time spent waiting for "
        "the disk (2 GB written: the parts and the output).",
    ]


def plot(rows: list[dict], path: Path) -> None:
    """Texts/s and peak RSS per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    names = [r["scenario"] for r in rows]
    left.barh(names, [r["texts/s"] for r in rows])
    left.set_xlabel("texts/s")
    right.barh(names, [r["peak RSS MB"] for r in rows], color="tab:orange")
    right.axvline(500, color="gray", linestyle="--", label="500 MB")
    right.set_xlabel("peak RSS MB")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
