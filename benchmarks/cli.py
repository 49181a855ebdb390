"""`static-edge bench`: throughput of a bundle against Sentence Transformers, model2vec and transformers."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rich.console import Console

console = Console(highlight=False)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path)
    parser.add_argument(
        "--baseline", action="append", default=[], help="transformer model folder, or NAME=FOLDER; repeatable"
    )
    parser.add_argument(
        "--texts",
        type=Path,
        action="append",
        default=[],
        help="text file, one text a line; repeatable (default: the sample corpus)",
    )
    parser.add_argument("--batch-sizes", default="1,32,1024")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: one per core)")
    parser.add_argument(
        "--transformer-onnx",
        action="store_true",
        help="also time the baselines exported to ONNX with optimum (separate cached venv)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median taken)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="least time per run for slow encoders")
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    parser.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results"))


def run_bench(args: argparse.Namespace) -> int:
    from benchmarks.speed import (
        _static_encoders,
        _transformer_encoders,
        environment,
        export_transformer_onnx,
        measure,
        write_results,
    )
    from runtimes.samples import sample_corpus

    text_sets = {p.stem: [t for t in p.read_text(encoding="utf-8").splitlines() if t.strip()] for p in args.texts}
    text_sets = text_sets or {"sample corpus x5": sample_corpus() * 5}
    batches = [int(b) for b in args.batch_sizes.split(",")]
    encoders = _static_encoders(args.bundle, args.threads)
    onnx_dirs = export_transformer_onnx(args.baseline, args.cache) if args.transformer_onnx and args.baseline else {}
    transformers = _transformer_encoders(args.baseline, onnx_dirs)
    encoders.update(transformers)

    def show(m) -> None:
        console.print(f"{m.encoder:52s} {m.texts:22s} batch {m.batch_size:5d}: {m.sentences_per_second:12,.0f}/s")

    results = measure(
        encoders,
        text_sets,
        batches,
        slow=set(transformers),
        min_seconds=args.min_seconds,
        repeats=args.repeats,
        progress=show,
    )
    command = "static-edge bench " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    reference = next((name for name in transformers if "mpnet" in name and "torch" in name), None)
    reference = reference or "static-edge onnxruntime fp32"
    md = write_results(results, args.output, command, environment(), reference, batches)
    console.print(f"[green]wrote[/green] {md}, {md.with_suffix('.png')}")
    return 0
