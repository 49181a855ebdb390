"""Binary (ubinary) search against float search: recall@10, nDCG@10, index size and search time.

    python -m benchmarks.measure.binary_recall BUNDLE --data ../shared/data [--dims 128,256,384]

Two corpora: SciFact (5,183 abstracts, its 809 train queries, judged) and the SNLI dev premises (the
unique ones; queries: the first 1,000 hypotheses, unjudged). For each Matryoshka slice of the bundle's
vectors, the float top-10 (cosine, exact) is the reference; binary search ranks by Hamming distance,
and "rescored" re-ranks the 40 nearest by the float query against the candidates' sign vectors
(static_edge.runtimes.binary). Times are per query, measured in this run (ratios, not absolutes).
Writes binary_recall.md / .json / .png.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks import common

K = 10
RESCORE = 4


def _corpora(data: Path) -> dict[str, tuple[list[str], list[str], object]]:
    from static_edge.trainer.evaluate import read_beir

    scifact = read_beir(data / "retrieval" / "scifact", "train")
    premises = list(dict.fromkeys(line.strip() for line in open(data / "nli" / "s1.dev", encoding="utf-8")))
    hypotheses = [line.strip() for line in open(data / "nli" / "s2.dev", encoding="utf-8")][:1000]
    return {
        "SciFact": (list(scifact.queries.values()), list(scifact.corpus.values()), scifact),
        "SNLI dev premises": (hypotheses, premises, None),
    }


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth, strict=True)]))


def _ndcg(top: np.ndarray, data) -> float:
    """Mean nDCG@K x 100 of each query's ranked documents (`top`, one row per query)."""
    from static_edge.trainer.evaluate import query_ndcg

    doc_ids, query_ids = list(data.corpus), list(data.queries)
    total = sum(query_ndcg(top[row], data.qrels[query], doc_ids, K) for row, query in enumerate(query_ids))
    return 100 * total / len(query_ids)


def _timed(fn, repeats: int = 3):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def run(bundle: Path, data: Path, dims: list[int], variant: str | None) -> list[dict]:
    """One row per corpus and dims: index sizes, recall@10 (and nDCG@10 where judged), time per query."""
    from static_edge.runtimes import load
    from static_edge.runtimes.binary import BinaryIndex
    from static_edge.runtimes.embedder import l2_normalize

    model = load(bundle, variant=variant)
    rows = []
    for corpus_name, (queries, docs, judged) in _corpora(data).items():
        q_full, d_full = model.encode(queries), model.encode(docs)
        for d in dims:
            q, docs_d = l2_normalize(q_full[:, :d]), l2_normalize(d_full[:, :d])

            def float_search(q=q, docs_d=docs_d):
                scores = q @ docs_d.T
                top = np.argpartition(-scores, K, axis=1)[:, :K]
                order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
                return np.take_along_axis(top, order, axis=1)

            truth, float_s = _timed(float_search)
            index = BinaryIndex.from_vectors(docs_d)
            (plain, _), plain_s = _timed(lambda index=index, q=q: index.search(q, K))
            (rescored, _), rescored_s = _timed(lambda index=index, q=q: index.search(q, K, rescore=RESCORE))
            row = {
                "corpus": corpus_name,
                "docs": len(docs),
                "queries": len(queries),
                "dims": d,
                "float32 index MB": docs_d.astype(np.float32).nbytes / 1e6,
                "binary index MB": index.nbytes / 1e6,
                "recall@10 binary": _recall(plain, truth),
                f"recall@10 binary + rescore x{RESCORE}": _recall(rescored, truth),
                "float ms/query": 1000 * float_s / len(queries),
                "binary ms/query": 1000 * plain_s / len(queries),
                "rescored ms/query": 1000 * rescored_s / len(queries),
            }
            if judged is not None:
                row["nDCG@10 float"] = _ndcg(truth, judged)
                row["nDCG@10 binary"] = _ndcg(plain, judged)
                row["nDCG@10 rescored"] = _ndcg(rescored, judged)
            rows.append(row)
            print(row, flush=True)
    return rows


def _plot(rows: list[dict], path: Path) -> None:
    """Recall@10 against float search by dims, binary and rescored, one colour per corpus."""
    fig, ax = common.figure(size=(7, 4.5), dpi=110)
    for i, corpus in enumerate(dict.fromkeys(r["corpus"] for r in rows)):
        sub = [r for r in rows if r["corpus"] == corpus]
        dims = [r["dims"] for r in sub]
        ax.plot(dims, [r["recall@10 binary"] for r in sub], f"C{i}-o", label=f"{corpus}: binary")
        ax.plot(
            dims, [r[f"recall@10 binary + rescore x{RESCORE}"] for r in sub], f"C{i}--s", label=f"{corpus}: rescored"
        )
    ax.set_xlabel("dims (binary index: dims / 8 bytes per vector)")
    ax.set_ylabel("recall@10 against exact float search")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("binary (ubinary) search vs float search")
    common.save(fig, path, dpi=110)


def main() -> None:
    """Measure every corpus and dims, write binary_recall.md, .json and .png."""
    parser = common.parser(__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--dims", default="128,256,384")
    parser.add_argument("--variant", help="bundle variant to encode with (default: the bundle's default)")
    parser.add_argument("--model-note", default="", help="what the bundle is, for the results file")
    args = parser.parse_args()
    from static_edge.runtimes import load

    full = load(args.bundle, variant=args.variant).dims
    dims = sorted({min(int(d), full) for d in args.dims.split(",")})
    rows = run(args.bundle, args.data, dims, args.variant)
    common.publish(
        args.out,
        "binary_recall",
        "benchmarks.measure.binary_recall",
        title="Binary (ubinary) vectors: recall@10 against float search",
        rows=rows,
        plot=lambda path: _plot(rows, path),
        notes=[
            f"Bundle: `{args.bundle}` {args.model_note}".strip(),
            "Recall@10: the share of the exact float top-10 (cosine) that the binary search also returns. "
            f"Rescored: the {K * RESCORE} nearest by Hamming distance re-ranked by the float query against their "
            "sign vectors (no float copy of the index). Times are the best of 3 runs in this process, whole "
            "query batch at once (numpy, one machine shared with other jobs): compare ratios only.",
            "Plot: binary_recall.png",
        ],
    )


if __name__ == "__main__":
    main()
