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

import argparse
import hashlib
import tempfile
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from static_edge.exporter.bundle_export import ExportOptions, write_bundle
from static_edge.exporter.check import numpy_tolerance
from static_edge.exporter.sources import StaticSource
from static_edge.runtimes import load
from static_edge.runtimes.results import write_results
from static_edge.runtimes.samples import sample_corpus

LENGTHS = (1_000, 4_000, 16_000, 64_000, 200_000)
SENTENCE = "the quick brown fox jumps over the lazy dog near the river bank"


def _source(dims: int) -> StaticSource:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=["[PAD]", "[UNK]"], show_progress=False)
    tokenizer.train_from_iterator(sample_corpus(), trainer)
    table = np.random.default_rng(0).normal(0, 0.1, (tokenizer.get_vocab_size(), dims)).astype(np.float32)
    return StaticSource(
        table=table,
        tokenizer=tokenizer,
        kind="sentence-transformers",
        normalize=False,
        mask_unknown=False,
        unk_token_id=tokenizer.token_to_id("[UNK]"),
        max_length=None,
        path=Path("."),
        model_id="benchmark-random-table",
        revision=None,
        weights_sha256=hashlib.sha256(table.tobytes()).hexdigest(),
    )


def _text(kind: str, tokens: int, vocab: list[str], rng: np.random.Generator) -> str:
    if kind == "repeated":
        return " ".join([SENTENCE] * (tokens // len(SENTENCE.split()) + 1))
    if kind == "4-word cycle":  # a short cycle: what broke the earlier, fitted rule
        return " ".join(vocab[:4] * (tokens // 4 + 1))
    return " ".join(rng.choice(vocab, tokens))


def measure(lengths: tuple[int, ...] = LENGTHS, dims: int = 256) -> list[dict]:
    source = _source(dims)
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, style in (("numpy vs onnxruntime", "o"), ("numpy vs exact", "x")):
        ax.scatter([r["tokens"] for r in rows], [float(r[key]) for r in rows], marker=style, label=key)
    tokens = np.logspace(2, np.log10(max(r["tokens"] for r in rows)), 50)
    largest = max(float(r["largest value M"]) for r in rows)
    bound = [numpy_tolerance(int(t), largest) for t in tokens]
    ax.plot(tokens, bound, "k--", label=f"tolerance: 1e-6 + tokens x 2^-24 x M (M = {largest:.2f})")
    ax.set(xscale="log", yscale="log", xlabel="tokens in the text", ylabel="max abs diff of the sentence vector")
    ax.set_title("numpy runtime vs onnxruntime on one long text (fp32 and int8, 256 dims)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    rows = measure()
    md = write_results(
        args.out,
        "long_text_parity",
        title="numpy runtime vs onnxruntime by text length",
        command="python -m benchmarks.measure.long_text_parity",
        rows=rows,
        notes=[
            "onnxruntime sums a text's rows in float32 in sequence (its MatMul), so its error against the exact "
            "mean grows with the length; numpy's sum stays within about 1e-7 of it. The tolerance is the float32 "
            "summation bound 1e-6 + tokens x 2^-24 x M (M: the largest magnitude in the decoded table); the "
            "column 'bound / measured' says how far inside it each row is."
        ],
    )
    plot(rows, args.out / "long_text_parity.png")
    print(f"wrote {md}")


if __name__ == "__main__":
    main()
