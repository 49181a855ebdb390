"""Regenerate every benchmark table and plot in benchmarks/results/ with one command.

    python -m benchmarks.run_all --data ../shared/data [--train]

1. (--train, or when missing) the English training recipe at 256 and at 768 dims, about 5 minutes each here;
2. the speed table: the recipe's 256-dim int8 bundle (or the quickstart's) against Sentence
   Transformers, model2vec, all-MiniLM-L6-v2 and all-mpnet-base-v2 (torch and onnxruntime), on
   STS-B dev sentences and SciFact abstracts, batch sizes 1, 32, 1024;
3. the size x quality grid (dims 32-768 x fp32/fp16/int8) of the 768-dim model.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path("benchmarks/results")
CACHE = Path("benchmarks/.cache")


def text_files(data: Path, folder: Path) -> list[Path]:
    """STS-B dev sentences (unique) and SciFact abstracts, one text a line."""
    folder.mkdir(parents=True, exist_ok=True)
    sentences = []
    with open(data / "sts" / "stsb-en-dev.csv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            sentences += row[:2]
    short = folder / "stsb-dev-sentences.txt"
    short.write_text("\n".join(dict.fromkeys(s.replace("\n", " ") for s in sentences)) + "\n")
    abstracts = []
    with gzip.open(data / "retrieval" / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            abstracts.append(json.loads(line)["text"].replace("\n", " "))
    long = folder / "scifact-abstracts.txt"
    long.write_text("\n".join(abstracts[:2000]) + "\n")
    return [short, long]


def run(command: list[str]) -> None:
    """Print and run one step; stop everything when it fails."""
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def main() -> None:
    """Parse the options and regenerate the results, step by step."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train", action="store_true", help="run the training recipe first")
    parser.add_argument("--no-transformer-onnx", action="store_true", help="skip the optimum ONNX baselines")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where every table, plot and model goes")
    parser.add_argument("--cache", type=Path, default=CACHE, help="teachers, text files and ONNX baselines")
    args = parser.parse_args()
    python = sys.executable
    english = args.out / "english"  # the recipe's 256-dim model
    english_768 = args.out / "english-768"  # the same recipe at 768 dims, for the dims x dtype grid
    for out, extra in ((english, []), (english_768, ["--dims", "768"])):
        if args.train or not (out / "model" / "modules.json").is_file():
            recipe = ["--data", str(args.data), "--out", str(out), "--cache", str(args.cache), *extra]
            run([python, "-m", "benchmarks.recipes.english", *recipe])
    from static_edge.trainer.distill import default_teacher
    from static_edge.trainer.teachers import mpnet_teacher

    mpnet = mpnet_teacher(args.cache)
    texts = text_files(args.data, args.cache / "texts")
    bench = [
        python,
        "-m",
        "static_edge.cli",
        "bench",
        str(english / "bundle-256-int8"),
        "--baseline",
        f"all-MiniLM-L6-v2={default_teacher()}",
        "--baseline",
        f"all-mpnet-base-v2={mpnet}",
        "-o",
        str(args.out),
        "--cache",
        str(args.cache),
    ]
    for path in texts:
        bench += ["--texts", str(path)]
    if not args.no_transformer_onnx:
        bench.append("--transformer-onnx")
    run(bench)
    run(
        [
            python,
            "-m",
            "benchmarks.measure.quality_grid",
            str(english_768 / "model"),
            "--data",
            str(args.data),
            "--out",
            str(args.out),
        ]
    )


if __name__ == "__main__":
    main()
