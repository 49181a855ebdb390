"""Size and quality grid: dims x dtype (and pruned vocabularies), measured through the exported files.

    python -m benchmarks.measure.quality_grid MODEL --data ../shared/data --out benchmarks/results \\
        [--name quality_grid] [--prune-corpus CORPUS.txt[.gz] --prune-limit N] [--prune-dims 256]

For each Matryoshka slice, the model is exported with fp32, fp16, int8, int4 and int2 tables; each
file's bytes on disk, STS-B dev Spearman and SciFact nDCG@10 (train queries) are measured by loading
that file with `runtimes`. Pruned rows (at `--prune-dims`) come from two exports with
`--vocab-from`: the texts the grid evaluates on (their vectors, and so their scores, must equal the
unpruned ones) and, when given, `--prune-corpus` (another corpus: STS-B and SciFact then meet tokens it
lacks). Writes NAME.md, NAME.json and a quality-vs-size Pareto plot NAME.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks import common

VARIANTS = ("fp32", "fp16", "int8", "int4", "int2")
MARKERS = {"fp32": "o", "fp16": "s", "int8": "^", "int4": "D", "int2": "v"}


def _evaluation_sets(data: Path):
    """STS-B dev and SciFact (train queries)."""
    from static_edge.trainer.evaluate import read_beir, read_sts

    sts = {"stsb-en-dev": read_sts(data / "sts" / "stsb-en-dev.csv")}
    retrieval = {"scifact": read_beir(data / "retrieval" / "scifact", "train")}
    return sts, retrieval


def _evaluation_texts(sts, retrieval) -> list[str]:
    texts = [t for d in sts.values() for t in (*d.sentences1, *d.sentences2)]
    texts += [t for d in retrieval.values() for t in (*d.queries.values(), *d.corpus.values())]
    return [" ".join(t.split()) for t in texts if t.strip()]  # one text per line: newlines become spaces


def measure(bundle: Path, dims: int, variants, sts, retrieval, vocab: str) -> list[dict]:
    """One row per variant of `bundle`: bytes, tokenizer bytes, STS-B dev and SciFact scores."""
    from static_edge.runtimes import read_manifest
    from static_edge.runtimes.bundle import TOKENIZER_FILE
    from static_edge.trainer.evaluate import evaluate, model_encoder

    manifest = read_manifest(bundle)
    rows = []
    for variant in variants:
        encode, _, _ = model_encoder(bundle, variant)
        scores = evaluate(encode, [dims], sts, retrieval)
        rows.append(
            {
                "dims": dims,
                "dtype": variant,
                "vocab": vocab,
                "tokens": manifest.vocab_size,
                "bytes": manifest.variant_bytes()[variant],
                "tokenizer_bytes": manifest.files[TOKENIZER_FILE]["bytes"],
                "sts_spearman": scores["sts:stsb-en-dev"][dims],
                "scifact_ndcg10": scores["retrieval:scifact"][dims],
            }
        )
        print(rows[-1], flush=True)
    return rows


def grid(
    model: Path,
    data: Path,
    dims: list[int],
    workdir: Path,
    prune_corpus: Path | None,
    prune_dims: int,
    prune_limit: int | None = None,
) -> list[dict]:
    """Every dims x variant of `model`, then the pruned exports at `prune_dims`: one row each."""
    from static_edge.exporter import ExportOptions, export

    sts, retrieval = _evaluation_sets(data)
    rows = []
    for d in dims:
        options = ExportOptions(dims=d, int8=True, fp16=True, int4=True, int2=True, overwrite=True)
        bundle = export(model, workdir / f"dims-{d}", options)
        rows += measure(bundle, d, VARIANTS, sts, retrieval, "full")
    eval_corpus = workdir / "evaluation-texts.txt"
    eval_corpus.write_text("\n".join(_evaluation_texts(sts, retrieval)) + "\n", encoding="utf-8")
    corpora = [("pruned to the evaluation texts", eval_corpus)]
    if prune_corpus is not None:
        from static_edge.exporter.vocab_pruning import read_corpus

        texts = read_corpus(prune_corpus)[0][:prune_limit]
        limited = workdir / f"{prune_corpus.name.split('.')[0]}-{len(texts)}.txt"
        limited.write_text("\n".join(texts) + "\n", encoding="utf-8")
        corpora.append((f"pruned to {len(texts):,} texts of {prune_corpus.name}", limited))
    for label, corpus in corpora:
        options = ExportOptions(dims=prune_dims, int8=True, int4=True, overwrite=True, vocab_from=corpus)
        bundle = export(model, workdir / f"pruned-{corpus.stem}", options)
        rows += measure(bundle, prune_dims, ("fp32", "int8", "int4"), sts, retrieval, label)
    return rows


def pareto(rows: list[dict], key: str, min_gain: float = 0.01) -> list[dict]:
    """Rows no smaller row matches on `key`: each step up in size must gain more than `min_gain` points."""
    front = []
    for row in sorted(rows, key=lambda r: (r["bytes"], -r[key])):
        if not front or row[key] > front[-1][key] + min_gain:
            front.append(row)
    return front


def _label(row: dict) -> str:
    return f"{row['dims']} {row['dtype']}" + ("" if row["vocab"] == "full" else f" ({row['vocab']})")


def write(rows: list[dict], out: Path, name: str, model: Path, model_note: str) -> Path:
    """NAME.md, NAME.json (with every measurement) and the Pareto plot NAME.png in `out`."""
    table = [
        {
            "dims": r["dims"],
            "dtype": r["dtype"],
            "vocabulary": f"{r['vocab']} ({r['tokens']:,} tokens)",
            "model file MB": r["bytes"] / 1e6,
            "+ tokenizer.json MB": (r["bytes"] + r["tokenizer_bytes"]) / 1e6,
            "STS-B dev Spearman": r["sts_spearman"],
            "SciFact nDCG@10": r["scifact_ndcg10"],
        }
        for r in rows
    ]
    notes = [
        f"Model: `{model}` ({model_note}).",
        "Scores x100, measured through each exported ONNX file with static-edge's onnxruntime runtime. "
        "Sizes are bytes on disk / 1e6.",
        "Pareto front (STS, model file size): " + ", ".join(_label(r) for r in pareto(rows, "sts_spearman")),
        "Pareto front (SciFact, model file size): " + ", ".join(_label(r) for r in pareto(rows, "scifact_ndcg10")),
        "int2 is ternary (see docs/bundle-format.md): not a close copy of fp32 (cosine about 0.86), and on a "
        "PCA-distilled table it can score above fp32 because it evens out the dimensions' variances.",
        f"Plot: {name}.png",
    ]
    return common.publish(
        out,
        name,
        "benchmarks.measure.quality_grid",
        title="Size and quality per dims x dtype, and pruned vocabularies",
        rows=table,
        notes=notes,
        data={"model": str(model), "measurements": rows},
        plot=lambda path: _plot(rows, path),
    )


def _plot(rows: list[dict], path: Path) -> None:
    """Quality against model file size per dtype (labels: dims), with the Pareto front; STS and SciFact panels."""
    fig, axes = common.figure(2, (13, 5), dpi=110)
    for ax, key, label in (
        (axes[0], "sts_spearman", "STS-B dev Spearman x100"),
        (axes[1], "scifact_ndcg10", "SciFact nDCG@10 x100"),
    ):
        for dtype, marker in MARKERS.items():
            for pruned in (False, True):
                sub = [r for r in rows if r["dtype"] == dtype and (r["vocab"] != "full") == pruned]
                if not sub:
                    continue
                style = {"facecolors": "none", "edgecolors": "black"} if pruned else {}
                ax.scatter(
                    [r["bytes"] / 1e6 for r in sub],
                    [r[key] for r in sub],
                    marker=marker,
                    s=40,
                    label=f"{dtype}, pruned" if pruned else dtype,
                    **style,
                )
                for r in sub:
                    ax.annotate(
                        str(r["dims"]),
                        (r["bytes"] / 1e6, r[key]),
                        fontsize=7,
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
        front = pareto(rows, key)
        ax.plot([r["bytes"] / 1e6 for r in front], [r[key] for r in front], "k--", lw=1, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("model file size, MB (log scale)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle("quality vs size: Matryoshka dims (labels) x dtype; hollow black = pruned vocabulary")
    common.save(fig, path, dpi=110)


def main() -> None:
    """Measure the grid; write NAME.md, NAME.json and NAME.png."""
    parser = common.parser(__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--dims", default="32,64,128,256,512,768")
    parser.add_argument("--name", default="quality_grid", help="results file name (NAME.md, NAME.json, NAME.png)")
    parser.add_argument("--prune-corpus", type=Path, help="also prune to this corpus (one text per line)")
    parser.add_argument("--prune-limit", type=int, help="use only the first N texts of --prune-corpus")
    parser.add_argument("--prune-dims", type=int, default=256, help="dims of the pruned rows")
    parser.add_argument("--model-note", default="", help="how the model was made, for the results file")
    args = parser.parse_args()
    from static_edge.exporter import read_source

    full = read_source(args.model).dims
    dims = sorted({min(int(d), full) for d in args.dims.split(",")})
    with tempfile.TemporaryDirectory() as tmp:
        rows = grid(
            args.model, args.data, dims, Path(tmp), args.prune_corpus, min(args.prune_dims, full), args.prune_limit
        )
    write(rows, args.out, args.name, args.model, args.model_note)


if __name__ == "__main__":
    main()
