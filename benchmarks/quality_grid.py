"""Size and quality grid: dims x dtype, measured through the exported files.

    python -m benchmarks.quality_grid MODEL --data ../shared/data --out benchmarks/results

For each Matryoshka slice, the model is exported with fp32, fp16 and int8 tables; each file's bytes
on disk, STS-B dev Spearman and SciFact nDCG@10 (train queries) are measured by loading that file
with `runtimes`. Writes quality_grid.md, quality_grid.json and a quality-vs-size Pareto plot.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

VARIANTS = ("fp32", "fp16", "int8")


def grid(model: Path, data: Path, dims: list[int], workdir: Path) -> list[dict]:
    from static_edge.exporter import ExportOptions, export
    from static_edge.runtimes import read_manifest
    from static_edge.runtimes.bundle import VARIANT_FILES
    from static_edge.trainer.evaluate import evaluate, model_encoder, read_beir, read_sts

    sts = {"stsb-en-dev": read_sts(data / "sts" / "stsb-en-dev.csv")}
    retrieval = {"scifact": read_beir(data / "retrieval" / "scifact", "train")}
    rows = []
    for d in dims:
        bundle = export(model, workdir / f"dims-{d}", ExportOptions(dims=d, int8=True, fp16=True, overwrite=True))
        files = read_manifest(bundle).files
        for variant in VARIANTS:
            encode, _, _ = model_encoder(bundle, variant)
            scores = evaluate(encode, [d], sts, retrieval)
            rows.append(
                {
                    "dims": d,
                    "dtype": variant,
                    "bytes": files[VARIANT_FILES[variant]]["bytes"],
                    "sts_spearman": scores["sts:stsb-en-dev"][d],
                    "scifact_ndcg10": scores["retrieval:scifact"][d],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def pareto(rows: list[dict], key: str, min_gain: float = 0.01) -> list[dict]:
    """Rows no smaller row matches on `key`: each step up in size must gain more than `min_gain` points."""
    front = []
    for row in sorted(rows, key=lambda r: (r["bytes"], -r[key])):
        if not front or row[key] > front[-1][key] + min_gain:
            front.append(row)
    return front


def write(rows: list[dict], out: Path, command: str, model: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Size and quality per dims x dtype",
        "",
        f"Model: `{model}`",
        "",
        f"Command: `{command}`",
        "",
        "Scores x100, measured through each exported ONNX file with static-edge's onnxruntime runtime.",
        "",
        "| dims | dtype | size MB | STS-B dev Spearman | SciFact nDCG@10 |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dims']} | {r['dtype']} | {r['bytes'] / 1e6:.2f} | {r['sts_spearman']:.2f} | "
            f"{r['scifact_ndcg10']:.2f} |"
        )
    front = pareto(rows, "sts_spearman")
    lines += ["", "Pareto front (STS): " + ", ".join(f"{r['dims']} {r['dtype']}" for r in front)]
    md = out / "quality_grid.md"
    md.write_text("\n".join(lines) + "\n")
    (out / "quality_grid.json").write_text(
        json.dumps({"command": command, "model": str(model), "rows": rows}, indent=2)
    )
    _plot(rows, out / "quality_grid.png")
    return md


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    markers = {"fp32": "o", "fp16": "s", "int8": "^"}
    for ax, key, label in (
        (axes[0], "sts_spearman", "STS-B dev Spearman x100"),
        (axes[1], "scifact_ndcg10", "SciFact nDCG@10 x100"),
    ):
        for dtype, marker in markers.items():
            sub = [r for r in rows if r["dtype"] == dtype]
            ax.scatter([r["bytes"] / 1e6 for r in sub], [r[key] for r in sub], marker=marker, label=dtype, s=40)
            for r in sub:
                ax.annotate(
                    str(r["dims"]), (r["bytes"] / 1e6, r[key]), fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
        front = pareto(rows, key)
        ax.plot([r["bytes"] / 1e6 for r in front], [r[key] for r in front], "k--", lw=1, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("file size, MB (log scale)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("quality vs size: Matryoshka dims (labels) x dtype")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dims", default="32,64,128,256,512,768")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    from static_edge.exporter import read_source

    full = read_source(args.model).dims
    dims = sorted({min(int(d), full) for d in args.dims.split(",")})
    with tempfile.TemporaryDirectory() as tmp:
        rows = grid(args.model, args.data, dims, Path(tmp))
    command = "python -m benchmarks.quality_grid " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"wrote {write(rows, args.out, command, args.model)}")


if __name__ == "__main__":
    main()
