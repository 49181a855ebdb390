"""How far the numpy runtime and onnxruntime drift apart as a text grows, and against the exact (float64) mean.

    python -m benchmarks.measure.long_text_parity

onnxruntime's MatMul sums a text's rows in float32 one after another, so its rounding error grows with the
text's length; numpy's reduceat sum stays near the float64 mean. The bundle format's numpy-vs-onnxruntime
tolerance therefore grows with the length (docs/bundle-format.md#parity-tolerances, `check.numpy_tolerance`:
the float32 summation bound); this table measures how far inside that bound real texts stay. The model is a
WordPiece tokenizer trained on the sample corpus and a random normal(0, 0.1) table of 256 dims; a "repeated"
text repeats one sentence (every partial sum grows the same way), a "4-word cycle" repeats four words, a
"random" text draws words uniformly from the vocabulary.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.measure.small_model import random_source
from static_edge.exporter.bundle_export import ExportOptions, write_bundle
from static_edge.exporter.check import numpy_tolerance
from static_edge.runtimes import load

LENGTHS = (1_000, 4_000, 16_000, 64_000, 200_000)
SENTENCE = "the quick brown fox jumps over the lazy dog near the river bank"


def _text(kind: str, tokens: int, vocab: list[str], rng: np.random.Generator) -> str:
    if kind == "repeated":
        return " ".join([SENTENCE] * (tokens // len(SENTENCE.split()) + 1))
    if kind == "4-word cycle":  # a short cycle: what broke the earlier, fitted rule
        return " ".join(vocab[:4] * (tokens // 4 + 1))
    return " ".join(rng.choice(vocab, tokens))


def measure(lengths: Sequence[int] = LENGTHS, dims: int = 256) -> list[dict]:
    """One row per bundle (normalized or not), variant, text kind and length: the gaps and the tolerance."""
    source = random_source(dims)
    vocab = [w for w in source.tokenizer.get_vocab() if w.isalpha()]
    rng = np.random.default_rng(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for normalize in (False, True):
            folder = Path(tmp) / f"b-{normalize}"
            (folder).mkdir()
            write_bundle(source, folder, dims, ExportOptions(int8=True, normalize=normalize), lambda message: None)
            for variant in ("fp32", "int8"):
                ort, npy = load(folder, variant), load(folder, variant, backend="numpy")
                largest = npy.largest_value()
                for kind in ("repeated", "4-word cycle", "random"):
                    for length in lengths:
                        text = _text(kind, length, vocab, rng)
                        ids = npy.tokenizer.encode([text])[0]
                        weights = np.ones(len(ids)) if npy.scales is None else npy.scales[ids].astype(np.float64)
                        exact = (npy.table[ids].astype(np.float64) * weights[:, None]).mean(axis=0)
                        if normalize:
                            exact /= np.linalg.norm(exact)
                        a, b = ort.encode([text])[0], npy.encode([text])[0]
                        gap, tolerance = float(np.abs(a - b).max()), numpy_tolerance(len(ids), largest)
                        rows.append(
                            {
                                "tokens": len(ids),
                                "text": kind,
                                "normalize": normalize,
                                "variant": variant,
                                "numpy vs onnxruntime": f"{np.abs(a - b).max():.2e}",
                                "onnxruntime vs exact": f"{np.abs(a - exact).max():.2e}",
                                "numpy vs exact": f"{np.abs(b - exact).max():.2e}",
                                "largest value M": f"{largest:.3f}",
                                "tolerance (bound)": f"{tolerance:.1e}",
                                "bound / measured": f"{tolerance / max(gap, 1e-12):.0f}",
                            }
                        )
                        print(rows[-1], flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    """Measured gaps against the text's tokens, with the tolerance bound as a line."""
    fig, ax = common.figure()
    for key, style in (("numpy vs onnxruntime", "o"), ("numpy vs exact", "x")):
        ax.scatter([r["tokens"] for r in rows], [float(r[key]) for r in rows], marker=style, label=key)
    tokens = np.logspace(2, np.log10(max(r["tokens"] for r in rows)), 50)
    largest = max(float(r["largest value M"]) for r in rows)
    bound = [numpy_tolerance(int(t), largest) for t in tokens]
    ax.plot(tokens, bound, "k--", label=f"tolerance: 1e-6 + tokens x 2^-24 x M (M = {largest:.2f})")
    ax.set(xscale="log", yscale="log", xlabel="tokens in the text", ylabel="max abs diff of the sentence vector")
    ax.set_title("numpy runtime vs onnxruntime on one long text (fp32 and int8, 256 dims)")
    ax.legend()
    common.save(fig, path, dpi=120)


def main() -> None:
    """Measure every case; write long_text_parity.md, .json and .png."""
    parser = common.parser(__doc__)
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="comma-separated text lengths in tokens")
    args = parser.parse_args()
    rows = measure([int(n) for n in args.lengths.split(",")])
    common.publish(
        args.out,
        "long_text_parity",
        "benchmarks.measure.long_text_parity",
        title="numpy runtime vs onnxruntime by text length",
        rows=rows,
        plot=lambda path: plot(rows, path),
        notes=[
            "onnxruntime sums a text's rows in float32 in sequence (its MatMul), so its error against the exact "
            "mean grows with the length; numpy's sum stays within about 1e-7 of it. The tolerance is the float32 "
            "summation bound 1e-6 + tokens x 2^-24 x M (M: the largest magnitude in the decoded table); the "
            "column 'bound / measured' says how far inside it each row is."
        ],
    )


if __name__ == "__main__":
    main()
