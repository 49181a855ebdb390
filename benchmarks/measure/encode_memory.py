"""Peak memory of `model.encode(texts)` on 100k and 1M short sentences: the output array plus a bounded rest.

    python -m benchmarks.measure.encode_memory --bundle quickstart/bundle-256-int8

Each size runs in a fresh process: it reads the texts and loads the bundle, resets the kernel's peak-RSS mark
(/proc/self/clear_refs), encodes, and reads the peak (VmHWM). "Beyond the output" is that peak minus the RSS
before encode minus the output array: what encoding itself holds (issue: at most 250 MB at 1M texts).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common
from benchmarks.common import status_mb
from benchmarks.measure.corpus import short_sentences, write_lines

SIZES = (100_000, 1_000_000)


def worker(bundle: Path, texts_file: Path, lines: int) -> dict:
    """In this (fresh) process: the peak RSS of encoding the first `lines` texts, and what it is made of."""
    from static_edge.runtimes import load

    with texts_file.open(encoding="utf-8") as f:
        texts = [next(f).rstrip("\n") for _ in range(lines)]
    model = load(bundle)
    model.encode(texts[:1000])
    common.reset_peak_rss()
    before = status_mb("VmRSS")
    start = time.perf_counter()
    vectors = model.encode(texts)
    seconds = time.perf_counter() - start
    peak = status_mb("VmHWM")
    output = vectors.nbytes / 2**20
    return {
        "texts": lines,
        "variant": model.variant,
        "dims": model.dims,
        "tokenizer": model.tokenizer.library,
        "RSS before encode MB": before,
        "peak RSS MB": peak,
        "output array MB": output,
        "beyond the output MB": peak - before - output,
        "texts/s": lines / seconds,
    }


def main() -> None:
    """Each size in a fresh process; writes encode_memory.md, .json and .png."""
    parser = common.parser(__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated numbers of texts")
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpus_scale"))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    texts_file = args.work / f"short-{max(sizes)}.txt"
    if args.worker:
        print(json.dumps(worker(args.bundle, texts_file, args.worker)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    if not texts_file.is_file():
        write_lines(texts_file, short_sentences(max(sizes), data=args.data))
    rows = []
    for lines in sizes:
        command = [sys.executable, "-m", "benchmarks.measure.encode_memory", "--bundle", str(args.bundle), "--worker"]
        command += [str(lines), "--work", str(args.work), "--sizes", args.sizes]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    notes = [
        "The input list (the caller's texts) is in 'RSS before encode'; encode holds one chunk of 32,768 texts' "
        "ids and one onnxruntime batch at a time beyond the output array it returns.",
    ]
    title = "Peak memory of encode: the output array plus a bounded rest"
    common.publish(args.out, "encode_memory", "benchmarks.measure.encode_memory", title=title, rows=rows,
                   notes=notes, plot=lambda path: plot(rows, path))  # fmt: skip


def plot(rows: list[dict], path: Path) -> None:
    """Stacked bars: RSS before encode, the output array, and what encode held beyond it."""
    labels = [f"{r['texts']:,} texts" for r in rows]
    parts = ("RSS before encode MB", "output array MB", "beyond the output MB")
    fig, ax = common.figure(size=(6, 3))
    left = [0.0] * len(rows)
    for part in parts:
        values = [r[part] for r in rows]
        ax.barh(labels, values, left=left, label=part.removesuffix(" MB"))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("peak RSS, MB")
    ax.legend(fontsize=7)
    common.save(fig, path, dpi=120)


if __name__ == "__main__":
    main()
