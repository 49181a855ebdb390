"""How much lexical directions (trainer.lexical) add to a static table, by strength, before any training.

    python -m benchmarks.measure.lexical_strength --data ../shared/data --strengths 0,0.5,1,2,3 \
        "distilled=benchmarks/.cache/minilm-static-256" "pre-trained=benchmarks/.cache/<pre-trained start>" \
        "trained=<recipe out>/model" --out benchmarks/results/retrieval --name lexical_strength

The idf is counted once on the English pool without its held-apart dev items (as `--lexical` in the retrieval
recipe counts it); each model's table then gets directions of each strength and is scored on the English dev suite
(benchmarks.recipes.dev_suite) at every Matryoshka dim, float32, with no training in between.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import common

MODULE = "benchmarks.measure.lexical_strength"
DIMS = [64, 128, 256]


def options() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="LABEL=FOLDER of a Sentence Transformers static model")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--strengths", default="0,0.5,1,2,3", help="comma-separated strengths (0: the table as is)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/retrieval"))
    parser.add_argument("--name", default="lexical_strength")
    return parser


def labelled_models(parser: argparse.ArgumentParser, specs: list[str]) -> dict[str, Path]:
    """label -> folder of each LABEL=FOLDER; a folder that is not a Sentence Transformers model is a usage error."""
    from static_edge.runtimes.model_folders import is_sentence_transformers_folder

    models = {}
    for spec in specs:
        label, _, folder = spec.partition("=")
        if not folder or not is_sentence_transformers_folder(Path(folder)):
            parser.error(f"expected LABEL=FOLDER of a Sentence Transformers static model, got {spec!r}")
        models[label] = Path(folder)
    return models


def plot_by_strength(curves: dict[str, dict[float, float]], path: Path) -> None:
    """One line per model and task: its 256-dim score against the strength."""
    fig, ax = common.figure()
    for name, by_strength in curves.items():
        ax.plot(list(by_strength), list(by_strength.values()), marker="o", label=name)
    ax.set_xlabel("lexical strength (0: the table as it is)")
    ax.set_ylabel("score x100, 256 dims")
    ax.set_title("Lexical directions before training")
    ax.legend(fontsize=7)
    common.save(fig, path)


def sweep(models: dict[str, Path], strengths: list[float], data: Path) -> list[dict[str, Any]]:
    """One row per model, strength and task: its dev-suite score at each of DIMS. The idf is counted once per
    tokenizer on the English pool without its held-apart dev items (as the retrieval recipe's --lexical counts it).
    """
    from sentence_transformers import SentenceTransformer
    from tqdm.auto import tqdm

    from benchmarks.recipes.dev_suite import english_suite
    from benchmarks.recipes.steps import training_pool
    from static_edge.trainer.evaluate import evaluate
    from static_edge.trainer.lexical import lexical_directions, model_idf, set_table, static_table

    sts, retrieval = english_suite(data)
    idf_by_tokenizer: dict[str, Any] = {}
    rows = []
    with tqdm(total=len(models) * len(strengths), desc="tables scored", unit="table") as bar:
        for label, folder in models.items():
            model = SentenceTransformer(str(folder), device="cpu")
            table = static_table(model).detach().numpy().copy()
            tokenizer = model[0].tokenizer.to_str()
            if tokenizer not in idf_by_tokenizer:
                idf_by_tokenizer[tokenizer] = model_idf(model, training_pool(data))
            for strength in strengths:
                set_table(model, lexical_directions(table, idf_by_tokenizer[tokenizer], strength))
                encode = partial(model.encode, batch_size=1024, convert_to_numpy=True)
                for task, by_dim in evaluate(encode, DIMS, sts, retrieval).items():
                    scores = {str(d): by_dim[d] for d in DIMS}
                    rows.append({"model": label, "strength": strength, "task": task, **scores})
                bar.update()
    return rows


def main() -> None:
    """Run the sweep and write NAME.md/.json/.png into --out."""
    from static_edge.trainer.lexical import check_strength

    parser = options()
    args = parser.parse_args()
    models = labelled_models(parser, args.models)
    try:
        strengths = [check_strength(float(s)) for s in args.strengths.split(",")]
    except ValueError:
        parser.error(f"--strengths must be comma-separated finite numbers >= 0, got {args.strengths!r}")
    rows = sweep(models, strengths, args.data)
    curves = {
        f"{m} {t}": {s: r["256"] for r in rows for s in [r["strength"]] if r["model"] == m and r["task"] == t}
        for m in models
        for t in ("retrieval:scifact-train", "sts:stsb-en-dev")
    }
    common.publish(
        args.out,
        args.name,
        MODULE,
        title="Lexical directions by strength, before training (English dev suite, float32, x100)",
        rows=rows,
        columns=["model", "strength", "task", *map(str, DIMS)],
        notes=["Strength 0 is the table as it is. No model is trained between rows; the idf is the pool's."],
        plot=lambda path: plot_by_strength(curves, path),
    )


if __name__ == "__main__":
    main()
