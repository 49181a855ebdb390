"""`static-edge bench`: encode throughput of a bundle against the encoders users would run instead, in one run.

    static-edge bench BUNDLE -o RESULTS [--baseline MODEL ...] [--texts FILE]

Every encoder sees the same texts with the same thread count; throughput is the median of several
timed runs after a warm-up. Slow encoders (transformers) are timed on the first texts of the same
list, enough for about a second per run; the count is recorded. The repository's speed table adds two baselines
on top of these (benchmarks/measure/speed.py).
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.speed import sentences_per_second

BATCH_SIZES = (1, 32, 1024)
Encode = Callable[[Sequence[str], int], object]


@dataclass
class Measurement:
    """One timing: an encoder on a text set at a batch size."""

    encoder: str
    texts: str
    batch_size: int
    n_texts: int
    sentences_per_second: float


def static_encoders(bundle: Path, threads: int) -> dict[str, Encode]:
    """Our runtimes on the bundle, plus the same model through Sentence Transformers and model2vec."""
    encoders: dict[str, Encode] = {}
    manifest = read_manifest(bundle)
    for variant in [v for v in ("fp32", "int8") if v in manifest.variants]:
        model = load(bundle, variant=variant, threads=threads)
        encoders[f"static-edge onnxruntime {variant}"] = lambda t, b, m=model: m.encode(t, batch_size=b)
    numpy_model = load(bundle, variant=manifest.variants[-1], backend="numpy")
    encoders[f"static-edge numpy {numpy_model.variant}"] = lambda t, b: numpy_model.encode(t, batch_size=b)

    # The peers run the very same model: the bundle's own (sliced) fp32 table and tokenizer.
    st, m2v = peer_models(bundle)
    encoders["Sentence Transformers StaticEmbedding (torch)"] = lambda t, b: st.encode(
        list(t), batch_size=b, convert_to_numpy=True
    )
    encoders["model2vec StaticModel"] = lambda t, b: m2v.encode(list(t), batch_size=b, use_multiprocessing=False)
    tokenizer = numpy_model.tokenizer.tokenizer
    encoders["tokenization only (ceiling)"] = lambda t, b: tokenizer.encode_batch_fast(
        list(t), add_special_tokens=False
    )
    return encoders


def peer_models(bundle: Path) -> tuple[Any, Any]:
    """Sentence Transformers' StaticEmbedding and model2vec's StaticModel over the bundle's fp32 table."""
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    from static_edge.runtimes.bundle import TABLE_INITIALIZER, TOKENIZER_FILE, VARIANT_FILES
    from static_edge.runtimes.numpy_embedder import read_initializers
    from static_edge.trainer.st_compat import sentence_transformer_from_table

    manifest = read_manifest(bundle)
    table = read_initializers(bundle / VARIANT_FILES["fp32"], (TABLE_INITIALIZER,))[TABLE_INITIALIZER]
    tokenizer = Tokenizer.from_file(str(bundle / TOKENIZER_FILE))
    st = sentence_transformer_from_table(tokenizer, table, manifest.normalize, max_length=manifest.max_length)
    m2v = StaticModel(vectors=table, tokenizer=tokenizer, normalize=manifest.normalize, max_length=manifest.max_length)
    return st, m2v


def transformer_encoders(baselines: Sequence[str]) -> dict[str, Encode]:
    """Each `--baseline` transformer through Sentence Transformers (torch), named `NAME (torch)`."""
    from sentence_transformers import SentenceTransformer

    encoders: dict[str, Encode] = {}
    for spec in baselines:
        name, path = parse_baseline(spec)
        model = SentenceTransformer(str(path), device="cpu")
        encoders[f"{name} (torch)"] = lambda t, b, m=model: m.encode(list(t), batch_size=b, convert_to_numpy=True)
    return encoders


def parse_baseline(spec: str) -> tuple[str, str]:
    """`NAME=PATH` or `PATH` (named after its folder)."""
    name, sep, path = spec.partition("=")
    return (name, path) if sep else (Path(spec).name, spec)


def measure(
    encoders: dict[str, Encode],
    text_sets: dict[str, list[str]],
    batch_sizes: Sequence[int],
    slow: set[str],
    min_seconds: float = 1.0,
    repeats: int = 5,
    progress=None,
) -> list[Measurement]:
    """Median sentences/s of every encoder on every text set and batch size."""
    results = []
    for name, encode in encoders.items():
        for set_name, texts in text_sets.items():
            for batch in batch_sizes:
                sample = texts
                if name in slow or batch == 1:
                    # Time a probe, then take enough of the same texts for about min_seconds a run. A slow
                    # encoder may then get fewer texts than the batch size: `n_texts` records it.
                    probe = texts[: min(max(8, batch), 64)]
                    rate = len(probe) / _seconds(lambda p=probe, e=encode, b=batch: e(p, b))
                    floor = len(probe) if name in slow else batch
                    sample = texts[: int(min(len(texts), max(floor, rate * min_seconds)))]
                runs = min(3, repeats) if name in slow else repeats
                speed = sentences_per_second(lambda t, e=encode, b=batch: e(t, b), sample, repeats=runs, warmup=1)
                results.append(Measurement(name, set_name, batch, len(sample), speed))
                if progress:
                    progress(results[-1])
    return results


def _seconds(fn: Callable[[], object]) -> float:
    """Wall seconds of one call (at least a microsecond)."""
    start = time.perf_counter()
    fn()
    return max(time.perf_counter() - start, 1e-6)


def environment() -> dict[str, str]:
    """Versions of what was timed, and the machine."""
    import onnxruntime
    import tokenizers

    from static_edge.runtimes.results import machine

    info = {
        "machine": machine(),
        "onnxruntime": onnxruntime.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
    }
    for name in ("torch", "sentence_transformers", "model2vec"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            pass
    return info


def speed_rows(results: list[Measurement], reference: str, batch_sizes: Sequence[int]) -> list[dict[str, str]]:
    """One row per text set and encoder: sentences/s per batch size, with the ratio to `reference` in brackets."""
    rows = []
    for set_name in dict.fromkeys(r.texts for r in results):
        measured = {(r.encoder, r.batch_size): r for r in results if r.texts == set_name}
        ref = {b: m.sentences_per_second for (e, b), m in measured.items() if e == reference}
        for encoder in dict.fromkeys(e for e, _ in measured):
            row = {"texts": set_name, "encoder": encoder}
            counts = []
            for batch in batch_sizes:
                match = measured.get((encoder, batch))
                ratio = f" ({match.sentences_per_second / ref[batch]:.2f}x)" if match and batch in ref else ""
                row[f"batch {batch}"] = f"{match.sentences_per_second:,.0f}{ratio}" if match else ""
                counts += [str(match.n_texts)] if match else []
            row["texts timed"] = "/".join(counts)
            rows.append(row)
    return rows


def write_results(
    results: list[Measurement],
    out: Path,
    command: str,
    env: dict[str, str],
    reference: str,
    batch_sizes: Sequence[int] = BATCH_SIZES,
) -> Path:
    """speed.md and speed.json (the project's results writer) and speed.png in `out`; returns the Markdown path."""
    from static_edge.runtimes.results import write_results as write_tables

    versions = ", ".join(f"{k} {v}" for k, v in env.items() if k != "machine")
    md = write_tables(
        out,
        "speed",
        title="Encode throughput (sentences/s)",
        command=command,
        rows=speed_rows(results, reference, batch_sizes),
        notes=[f"Ratios in brackets are to `{reference}` at the same batch size.", f"Versions: {versions}."],
        data={"environment": env, "reference": reference, "results": [asdict(r) for r in results]},
    )
    _plot(results, out / "speed.png", batch_sizes)
    return md


def _plot(results: list[Measurement], path: Path, batch_sizes: Sequence[int]) -> None:
    """One panel per text set: sentences/s per encoder and batch size, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(r.texts for r in results))
    fig, axes = plt.subplots(1, len(sets), figsize=(7 * len(sets), 5), dpi=110, squeeze=False)
    for ax, set_name in zip(axes[0], sets, strict=True):
        rows = [r for r in results if r.texts == set_name]
        encoders = list(dict.fromkeys(r.encoder for r in rows))
        width = 0.8 / len(batch_sizes)
        for k, batch in enumerate(batch_sizes):
            values = [
                next((r.sentences_per_second for r in rows if r.encoder == e and r.batch_size == batch), 0)
                for e in encoders
            ]
            ax.barh(np.arange(len(encoders)) + k * width, values, height=width, label=f"batch {batch}")
        ax.set_yticks(np.arange(len(encoders)) + width)
        ax.set_yticklabels(encoders, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("sentences / second (log scale)")
        ax.set_title(set_name)
        ax.invert_yaxis()
        ax.legend(fontsize=8)
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge bench`."""
    parser.add_argument("bundle", type=Path)
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="folder for speed.md, speed.json and speed.png"
    )
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
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median taken)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="least time per run for slow encoders")


def bench_command(args: argparse.Namespace) -> str:
    """The `static-edge bench` command line that reproduces a run with these options (from the parsed options,
    not `sys.argv`, so it is right when `main([...])` is called from Python too)."""
    words = ["static-edge", "bench", str(args.bundle), "-o", str(args.output)]
    words += [w for b in args.baseline for w in ("--baseline", b)]
    words += [w for t in args.texts for w in ("--texts", str(t))]
    words += ["--batch-sizes", args.batch_sizes, "--threads", str(args.threads), "--repeats", str(args.repeats)]
    words += ["--min-seconds", str(args.min_seconds)]
    return shlex.join(words)


def text_sets(files: Sequence[Path]) -> dict[str, list[str]]:
    """Each `--texts` file's non-blank lines by the file's stem (default: the sample corpus, five times)."""
    from static_edge.runtimes.samples import sample_corpus

    sets = {p.stem: [t for t in p.read_text(encoding="utf-8").splitlines() if t.strip()] for p in files}
    return sets or {"sample corpus x5": sample_corpus() * 5}


def time_and_write(args: argparse.Namespace, encoders: dict[str, Encode], slow: set[str], command: str) -> Path:
    """Time `encoders` (those in `slow` on fewer texts) on the `--texts` sets and write speed.md, speed.json and
    speed.png to `--output`; ratios are to all-mpnet-base-v2 (torch) when it is a baseline, else to our fp32."""
    from static_edge.runtimes.console import console, done

    def show(m: Measurement) -> None:
        console.print(f"{m.encoder:52s} {m.texts:22s} batch {m.batch_size:5d}: {m.sentences_per_second:12,.0f}/s")

    batches = [int(b) for b in args.batch_sizes.split(",")]
    results = measure(
        encoders,
        text_sets(args.texts),
        batches,
        slow=slow,
        min_seconds=args.min_seconds,
        repeats=args.repeats,
        progress=show,
    )
    reference = next((name for name in encoders if name in slow and "mpnet" in name and "torch" in name), None)
    reference = reference or "static-edge onnxruntime fp32"
    md = write_results(results, args.output, command, environment(), reference, batches)
    done("wrote", f"{md}, {md.with_suffix('.png')}")
    return md


def run_bench(args: argparse.Namespace) -> int:
    """Time every encoder and write speed.md, speed.json and speed.png to `--output`."""
    encoders = static_encoders(args.bundle, args.threads)
    transformers = transformer_encoders(args.baseline)
    time_and_write(args, encoders | transformers, set(transformers), bench_command(args))
    return 0
