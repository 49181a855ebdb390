"""`static-edge encode` of a corpus file: one core against all cores, and peak memory with the cores kept busy.

    python -m benchmarks.measure.encode_file_scale --bundle quickstart/bundle-256-int8 [--lines 1000000]

Each row runs the real command in a fresh process on the same file of short sentences (STS-B / captions style),
writing Parquet. "1 core" pins it to one CPU with taskset; "all cores, busy machine" runs it while another process
keeps every core busy (one spinning worker per core). Peak RSS is the command's own (getrusage of the child).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common
from benchmarks.measure.corpus import short_sentences, write_lines

SCENARIOS = ("1 core", "all cores", "all cores, busy machine")
MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL, "
    "stdout=subprocess.DEVNULL); r = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.ru_maxrss, r.ru_utime + r.ru_stime)"
)
VARIANTS = ("fp32", "int8")


def _spin() -> None:
    while True:
        pass


def run_encode(bundle: Path, texts: Path, output: Path, scenario: str, variant: str) -> dict:
    """One `static-edge encode` run; wall seconds and the child's peak RSS."""
    command = [sys.executable, "-m", "static_edge.cli", "encode", str(bundle), str(texts), "-o", str(output), "--force",
               "--variant", variant]  # fmt: skip
    if scenario == "1 core":
        command = ["taskset", "-c", "0", *command]
    os.sync()  # the last run's gigabytes written back first: each run starts with no dirty pages to wait for
    spinners = []
    if scenario.endswith("busy machine"):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)]
        for spinner in spinners:
            spinner.start()
    started = time.perf_counter()
    try:
        # a wrapper process whose only child is the encode: its RUSAGE_CHILDREN is that run's alone
        done = subprocess.run([sys.executable, "-c", MEASURE, *command], check=True, capture_output=True, text=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()
    seconds = time.perf_counter() - started
    peak_kb, cpu_seconds = map(float, done.stdout.split()[-2:])
    return {
        "variant": variant,
        "scenario": scenario,
        "seconds": seconds,
        "texts/s": count_lines(texts) / seconds,
        "peak RSS MB": peak_kb / 1024,
        "CPU s / wall s": cpu_seconds / seconds,
    }


def count_lines(path: Path) -> int:
    """Lines in a file."""
    with path.open("rb") as f:
        return sum(1 for _ in f)


def main() -> None:
    """Run the three scenarios, write benchmarks/results/encode_file_scale.md/.json and its PNG."""
    parser = common.parser(__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/dev/shm/static-edge-encode-file-scale"),
        help="input and output folder (default in memory: the rows measure the cores, not the disk)",
    )
    parser.add_argument("--data", type=Path, default=common.DATA)
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed for the one-core row")
    args.work.mkdir(parents=True, exist_ok=True)
    texts = args.work / f"short-{args.lines}.txt"
    if not texts.exists():
        write_lines(texts, short_sentences(args.lines, data=args.data))
    rows = []
    for variant in VARIANTS:
        for scenario in SCENARIOS:
            rows.append(run_encode(args.bundle, texts, args.work / "out.parquet", scenario, variant))
            print(json.dumps(rows[-1]), flush=True)
    common.publish(args.out, "encode_file_scale", "benchmarks.measure.encode_file_scale",
                   title="static-edge encode: a corpus file on one core and on all", rows=rows,
                   notes=notes(args.bundle, texts, rows), plot=lambda path: plot(rows, path))  # fmt: skip
    shutil.rmtree(args.work, ignore_errors=True)


def notes(bundle: Path, texts: Path, rows: list[dict]) -> list[str]:
    """The conditions and the ratio, measured in this run."""
    from static_edge.runtimes import load

    model = load(bundle)
    sample = texts.read_text(encoding="utf-8").splitlines()[:20_000]
    _, lengths = model.tokenize(sample)
    chars = sum(map(len, sample)) / len(sample)
    ratios = ", ".join(
        f"{variant} {pick(rows, variant, '1 core') / pick(rows, variant, 'all cores'):.2f}x" for variant in VARIANTS
    )
    return [
        f"All cores / 1 core on {os.cpu_count()} cores, in this run: {ratios}.",
        f"Bundle {model.dims} dims (fp32 is the CPU default), tokenizer {model.tokenizer.library}, "
        f"texts of {chars:.0f} characters and {lengths.mean():.1f} tokens on average, float32 Parquet output.",
        "Three stages overlap: reading and tokenizing the next chunk, embedding this one (batches on every core), "
        "writing the previous one (an Arrow part for --resume, and its Parquet row groups straight into the output); "
        "each at most two chunks of 16,384 texts deep. Input and output are in /dev/shm (--work): a run writes 2 GB "
        "(the Arrow parts --resume needs, and the Parquet output), and on this VM's disk the waits for it varied "
        "the ratio from 1.15x to 2.0x between runs; in memory the rows measure the cores.",
    ]


def pick(rows: list[dict], variant: str, scenario: str) -> float:
    """Seconds of one row."""
    return next(r["seconds"] for r in rows if r["variant"] == variant and r["scenario"] == scenario)


def plot(rows: list[dict], path: Path) -> None:
    """Texts/s and peak RSS per scenario."""
    fig, (left, right) = common.figure(2, (10, 3.2))
    names = [f"{r['variant']}, {r['scenario']}" for r in rows]
    left.barh(names, [r["texts/s"] for r in rows])
    left.set_xlabel("texts/s")
    right.barh(names, [r["peak RSS MB"] for r in rows], color="tab:orange")
    right.axvline(500, color="gray", linestyle="--", label="500 MB")
    right.set_xlabel("peak RSS MB")
    right.legend(fontsize=7)
    common.save(fig, path, dpi=120)


if __name__ == "__main__":
    main()
