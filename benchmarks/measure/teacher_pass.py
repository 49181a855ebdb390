"""The teacher pass of `pretrain` in texts/s: today's torch pass against the ONNX teacher in fp32 and int8.

    python -m benchmarks.measure.teacher_pass [--texts 3000] [--mpnet-texts 1000] [--rounds 2]

"torch" is the pass as it was: Sentence Transformers' `encode` over all texts (batches of 64, longest first).
"onnx fp32" and "onnx int8" are `trainer.teacher_onnx`: the teacher exported once with `torch.onnx.export`
(int8: onnxruntime's dynamic quantization), run by ONNX Runtime on every core over length-sorted batches of 64.
The export is timed apart (it is cached by the teacher's digest). Cosines are each row's cosine to the torch
teacher's vector of the same text: `teacher_onnx.INT8_BOUND` is what int8 must keep to be the default.

Texts: all-MiniLM-L6-v2 embeds a sample of the retrieval pre-training corpus (questions, sentences and
passages: benchmarks/recipes/pretrain_texts.retrieval_corpus), all-mpnet-base-v2 a sample of the English one
(short texts: english_corpus), read from ../shared/data and never written out. Each configuration runs once;
the machine's load average is recorded beside each run (other jobs may share the cores), and
every kind runs `--rounds` times in turn after a warm-up batch: the table gives each kind's fastest round.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import common

BATCH = 64
TITLE = "Teacher pass: torch vs ONNX Runtime (fp32, int8)"


def _load() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


def _timed(encode: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float]:
    """`encode()`'s result, its seconds, and the load average as it started."""
    load = _load()
    started = time.perf_counter()
    vectors = encode()
    return vectors, time.perf_counter() - started, load


def _cosines(vectors: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean and min row-wise cosine of two normalized embeddings of the same texts."""
    cos = np.sum(vectors * reference, axis=1)
    return float(cos.mean()), float(cos.min())


def measure_teacher(name: str, teacher: Path, texts: Sequence[str], cache: Path, rounds: int) -> list[dict[str, Any]]:
    """Time the three passes of `teacher` over `texts`, `rounds` times in turn (each after one warm-up batch);
    one row each with its fastest round, speed-up and cosines against torch."""
    from static_edge.trainer.teacher_onnx import OnnxTeacher, encode_sorted, load_teacher, onnx_teacher

    model = load_teacher(teacher)
    texts = list(texts)
    exports, passes = {}, {"torch": lambda: model.encode(texts, batch_size=BATCH, normalize_embeddings=True)}
    for precision in ("fp32", "int8"):
        started = time.perf_counter()
        path = onnx_teacher(model, teacher, precision, cache)
        exports[f"onnx {precision}"] = time.perf_counter() - started
        encoder = OnnxTeacher(model, path)
        encoder(texts[:BATCH])  # warm-up: the session's first run allocates its buffers
        passes[f"onnx {precision}"] = lambda encoder=encoder: encode_sorted(encoder, texts, BATCH, progress=False)
    model.encode(texts[:BATCH], batch_size=BATCH)
    timings: dict[str, list[tuple[float, float]]] = {kind: [] for kind in passes}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(rounds):
        for kind, run in passes.items():
            vectors[kind], seconds, load = _timed(run)
            timings[kind].append((seconds, load))
            print(f"{name} round {round_ + 1}: {kind} {len(texts) / seconds:.1f} texts/s (load {load})", flush=True)
    torch_best = min(seconds for seconds, _ in timings["torch"])
    rows = []
    for kind, runs in timings.items():
        seconds, load = min(runs)
        backend, precision = (kind.split() + ["fp32"])[:2]
        cosines = _cosines(vectors[kind], vectors["torch"])
        rows.append(_row(name, backend, precision, len(texts), seconds, load, exports.get(kind), cosines, torch_best))
        rows[-1]["rounds texts/s"] = ", ".join(f"{len(texts) / s:.1f}" for s, _ in runs)
    chosen = onnx_teacher(model, teacher, "auto", cache)  # runs the probe check, recorded beside the int8 file
    probe = json.loads(path.with_suffix(".json").read_text())  # `path`: the int8 file, the loop's last
    rows[-1]["probe mean cos"], rows[-1]["probe min cos"] = f"{probe['mean']:.4f}", f"{probe['min']:.4f}"
    rows[-1]["auto picks"] = chosen.stem.rsplit("-", 1)[1]
    return rows


def _row(
    teacher: str,
    backend: str,
    precision: str,
    count: int,
    seconds: float,
    load: float,
    export: float | None,
    cosines: tuple[float, float],
    torch_seconds: float,
) -> dict[str, Any]:
    """One table row."""
    return {
        "teacher": teacher,
        "backend": backend,
        "precision": precision,
        "texts": count,
        "seconds": round(seconds, 1),
        "texts/s": round(count / seconds, 1),
        "x torch": round(torch_seconds / seconds, 2),
        "mean cos to torch": f"{cosines[0]:.4f}",
        "min cos to torch": f"{cosines[1]:.4f}",
        "export + quantize s": "-" if export is None else round(export, 1),
        "load avg at start": load,
        "probe mean cos": "-",
        "probe min cos": "-",
        "auto picks": "-",
    }


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Texts/s of each pass, grouped by teacher; an int8 bar that "auto" does not use is hatched."""
    teachers = list(dict.fromkeys(row["teacher"] for row in rows))
    kinds = ["torch fp32", "onnx fp32", "onnx int8"]
    fig, ax = common.figure(size=(7, 4))
    for offset, kind in enumerate(kinds):
        chosen = [
            next(r for r in rows if r["teacher"] == t and f"{r['backend']} {r['precision']}" == kind) for t in teachers
        ]
        x = np.arange(len(teachers)) + (offset - 1) * 0.27
        bars = ax.bar(x, [r["texts/s"] for r in chosen], width=0.27, label=kind)
        for bar, row in zip(bars, chosen, strict=True):
            if kind == "onnx int8":
                rejected = row["auto picks"] == "fp32"
                bar.set_hatch("//" if rejected else "")
                note = f"cos {row['mean cos to torch']}" + ("\nnot used" if rejected else "")
                ax.annotate(note, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set_xticks(np.arange(len(teachers)), teachers)
    ax.set_ylabel("texts/s (higher is better)")
    ax.set_ylim(0, max(r["texts/s"] for r in rows) * 1.25)
    ax.set_title("teacher pass on 2 shared CPU cores (int8: mean cosine to torch)")
    ax.legend(loc="upper left")
    common.save(fig, path)


def main() -> None:
    """Measure all-MiniLM-L6-v2 (and all-mpnet-base-v2 unless --mpnet-texts 0); write teacher_pass.md/.json/.png."""
    from benchmarks.recipes.pretrain_texts import english_corpus, retrieval_corpus
    from static_edge.trainer.distill import default_teacher
    from static_edge.trainer.teachers import mpnet_teacher

    parser = common.parser(__doc__)
    parser.add_argument("--texts", type=int, default=3000, help="texts for all-MiniLM-L6-v2")
    parser.add_argument("--mpnet-texts", type=int, default=1000, help="texts for all-mpnet-base-v2 (0: skip it)")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes of each kind, taken in turn")
    parser.add_argument("--data", type=Path, default=common.DATA)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:  # a fresh export, so its time is measured
        texts = retrieval_corpus(args.data, args.texts)[: args.texts]
        rows = measure_teacher("all-MiniLM-L6-v2", default_teacher(), texts, Path(cache), args.rounds)
        if args.mpnet_texts:
            texts = english_corpus(args.data, args.mpnet_texts)[: args.mpnet_texts]
            rows += measure_teacher("all-mpnet-base-v2", mpnet_teacher(), texts, Path(cache), args.rounds)
    common.publish(
        args.out,
        "teacher_pass",
        "benchmarks.measure.teacher_pass",
        title=TITLE,
        rows=rows,
        plot=lambda path: plot(rows, path),
        notes=notes(),
    )


def notes() -> list[str]:
    """The paragraphs under the table."""
    return [
        f"Threads: torch's default ({_torch_threads()}), ONNX Runtime's intra-op threads = the cores this process "
        f"may use ({_cores()}). The cores were shared with other jobs while this ran (their load average is in the "
        "table; one round of a kind ran up to 2.7 times slower than the other): each row is its kind's fastest "
        "round, and the ratios between rows are what carries over, not the absolute texts/s.",
        "Precision 'auto' (the default) uses int8 on CPU only when the int8 teacher's vectors of the probe texts "
        "(teacher_onnx.probe_texts: the sample corpus' 220 sentences and 22 paragraphs) keep a mean cosine >= 0.99 "
        "and a min >= 0.95 to the fp32 export's (teacher_onnx.INT8_BOUND), checked once per teacher; 'probe' "
        "columns are that check, 'cos to torch' columns the benchmark's own texts. all-mpnet-base-v2 loses too "
        "much in int8 (dynamic quantization of its MatMul weights, per channel), so 'auto' runs it in fp32. On a "
        "GPU the onnx teacher runs fp32 through the CUDA provider (not measured here: no GPU on this machine).",
    ]


def _torch_threads() -> int:
    """torch's intra-op thread count."""
    import torch

    return torch.get_num_threads()


def _cores() -> int:
    """Cores this process may use."""
    from static_edge.runtimes.embedder import available_cores

    return available_cores()


if __name__ == "__main__":
    main()
