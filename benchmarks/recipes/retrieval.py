"""Recipe: an English query -> passage retrieval model (256-dim-first Matryoshka), on 2 CPU cores.

    python -m benchmarks.recipes.retrieval --data ../shared/data --out benchmarks/results/retrieval

Steps: start from all-MiniLM-L6-v2 distilled with model2vec (256 dims, PCA; `--init mpnet` distills
all-mpnet-base-v2 instead, `--init random` starts from a random table over the MiniLM tokenizer), pre-train
that table on the teacher's vectors of the whole English pool (466,577 train-side texts, the held-apart dev items
left out: trainer.pretrain over benchmarks.recipes.teacher_pool; `--pretrain-size N` takes its first N,
`--no-pretrain` skips it), train MatryoshkaLoss(MultipleNegativesRankingLoss), the 256-dim loss weighted first,
on SQuAD question -> paragraph pairs with a hard negative (another paragraph of the same article), MedQuAD and
PubMedQA question -> passage pairs, plus the English similarity recipe's pairs (captions, SNLI, MRPC, STS-B
train), in no-duplicates batches (a SQuAD paragraph answers about 4.6 questions), then score the English dev
suite (benchmarks.recipes.dev_suite: SciFact train queries, held-apart SQuAD articles and MedQuAD diseases,
STS-B dev) per dimension, for the start, the trained model and its 256-dim int8 bundle. No SciFact text and no
held-apart item is trained or pre-trained on. The steps tried and their measured gains are in
benchmarks/results/retrieval/README.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks import common
from benchmarks.recipes import steps
from benchmarks.recipes.data import english_pairs, retrieval_pairs
from benchmarks.recipes.dev_suite import english_suite, held_apart
from benchmarks.recipes.teacher_pool import teacher_pool
from static_edge.runtimes.model_folders import is_sentence_transformers_folder

MODULE = "benchmarks.recipes.retrieval"
DIMS = [32, 64, 128, 256]
STARTS = {"minilm": "distilled all-MiniLM-L6-v2 (start)", "mpnet": "distilled all-mpnet-base-v2 (start)"}


def options() -> argparse.ArgumentParser:
    """The recipe's command line."""
    parser = steps.recipe_parser(__doc__, "retrieval", epochs=2.0, batch_size=1024)
    parser.add_argument(
        "--init", choices=["minilm", "mpnet", "random"], default="minilm", help="distilled teacher or a random table"
    )
    parser.add_argument("--lr", type=float, default=None, help="default 0.02 from a distilled start, 0.2 random")
    parser.add_argument("--matryoshka-weights", default="4,1,1,1", help="loss weight of dims 256,128,64,32")
    parser.add_argument("--no-english-pairs", action="store_true", help="train on the question-passage data alone")
    parser.add_argument("--caption-limit", type=int, default=20_000, help="multi30k caption pairs kept")
    parser.add_argument(
        "--mine-hard-negatives",
        action="store_true",
        help="also mine a negative for the pair sets without one (Sentence Transformers' miner, as train does)",
    )
    parser.add_argument(
        "--negatives",
        choices=["article", "teacher"],
        default="article",
        help="SQuAD's negative: another paragraph of the same article; or 'teacher': a negative for every question "
        "-> passage row mined by the teacher from its cached pool vectors (trainer.negatives)",
    )
    parser.add_argument(
        "--negative-margin", type=float, default=0.95, help="a teacher negative scores below this x its positive"
    )
    parser.add_argument(
        "--ict",
        action="store_true",
        help="also train on sentence -> rest-of-passage pairs of every training passage (inverse cloze task) and "
        "PubMedQA conclusion -> abstract pairs: claim-like queries from unlabelled passages",
    )
    parser.add_argument(
        "--vocabulary-swap",
        type=int,
        default=0,
        help="swap this many rarely seen tokens of the teacher's tokenizer for frequent words it splits, counted "
        "on the pre-training pool (benchmarks.recipes.vocabulary; same table size)",
    )
    parser.add_argument(
        "--lexical",
        type=float,
        default=0.0,
        help="before contrastive training, add to each token's row a random direction weighted by its idf on the "
        "pre-training pool times this strength (trainer.lexical: shared rare terms count, as in keyword search); "
        "0 turns it off",
    )
    parser.add_argument(
        "--pretrain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pre-train the distilled start on its teacher's vectors of --pretrain-size texts of the English pool "
        "(trainer.pretrain over benchmarks.recipes.teacher_pool) before contrastive training "
        "(default: on for a distilled start)",
    )
    steps.add_pretrain_arguments(parser, size=None, epochs=5.0)
    return parser


def parse() -> argparse.Namespace:
    """The options, with --pretrain and --lr resolved for the chosen start."""
    from static_edge.trainer.lexical import check_strength

    parser = options()
    args = parser.parse_args()
    if args.pretrain and args.init == "random":
        parser.error("--pretrain needs a distilled start (--init minilm or mpnet)")
    try:
        check_strength(args.lexical)
    except ValueError:
        parser.error(f"--lexical must be a finite number >= 0, got {args.lexical}")
    args.pretrain = args.init != "random" if args.pretrain is None else args.pretrain
    return args


def start_model(args: argparse.Namespace, timings: dict[str, float]) -> tuple[Path, str | None]:
    """The start's folder (distilled, then pre-trained with --pretrain) and its name in the table (None for a
    random table, which borrows the MiniLM start's tokenizer)."""
    from static_edge.trainer.distill import default_teacher
    from static_edge.trainer.teachers import mpnet_teacher

    teacher_name = "mpnet" if args.init == "mpnet" else "minilm"
    base = args.cache / f"{teacher_name}-static-256"
    teacher = None
    with steps.timed(timings, "teacher + distill"):
        if args.pretrain or args.vocabulary_swap or not is_sentence_transformers_folder(base):  # teacher needed
            teacher = mpnet_teacher(args.cache) if teacher_name == "mpnet" else default_teacher()
            base = steps.distilled(teacher, base, 256, args.vocabulary_swap, args.data)
    label = STARTS.get(args.init)
    if not args.pretrain:
        return base, label
    config = steps.pretrain_config(args)
    base = steps.pretrained_start(base, teacher, args.data, args.pretrain_size, args.cache, config, timings)
    return base, label.replace("distilled", "distilled + pre-trained")


def main() -> None:
    """Run the recipe: start, training, export, evaluation, results."""
    from static_edge.trainer.distill import default_teacher
    from static_edge.trainer.plots import plot_scores_by_dims
    from static_edge.trainer.train import init_model

    args = parse()
    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    base, start_label = start_model(args, timings)
    start = time.time()
    data = retrieval_pairs(args.data, held_apart(args.data).excludes, ict=args.ict)
    if args.negatives == "teacher":
        with steps.timed(timings, "mine negatives"):
            pool = teacher_pool(default_teacher(), args.data, args.cache)
            data = steps.teacher_negatives(data, pool, args.negative_margin)
            del pool
    if not args.no_english_pairs:
        data.update(english_pairs(args.data, caption_limit=args.caption_limit))
    model = init_model(None, tokenizer=base, dims=256) if args.init == "random" else init_model(base)
    if args.lexical:
        with steps.timed(timings, "lexical directions"):
            steps.lexical_start(model, args.data, args.lexical)
    lr = args.lr if args.lr is not None else (0.2 if args.init == "random" else 0.02)
    weights = steps.weights(args.matryoshka_weights)
    config = steps.train_config(
        args, [256, 128, 64, 32], lr, base, matryoshka_weights=weights, mine_hard_negatives=args.mine_hard_negatives
    )
    trained, bundle = steps.train_and_export(model, data, args.out, config, timings, start, "train")
    score = steps.scorer(*english_suite(args.data))
    with steps.timed(timings, "evaluate"):
        results = {start_label: score(base, DIMS)} if start_label is not None else {}
        results["trained"] = score(trained, DIMS)
        results["trained, bundle 256 int8"] = score(bundle, [256], "int8")
    load = steps.end_of_run(timings)
    steps.write_card(trained, args.out, None if args.init == "random" else str(base), data, results["trained"])
    write_scores(args, lr, results, timings, load, data)
    plot_scores_by_dims(
        {
            f"{name} {task}": by_dim
            for name in results
            if name != "trained, bundle 256 int8"
            for task, by_dim in results[name].items()
        },
        args.out / "scores.png",
        title="Retrieval recipe: start vs trained (per Matryoshka dim)",
    )
    print((args.out / "scores.md").read_text())


def write_scores(args: argparse.Namespace, lr: float, results: dict, timings: dict, load: tuple, data: dict) -> Path:
    """scores.md and scores.json in --out: scores per model, task and dimension, and how the run was set up."""
    setup = (
        f"Init: {args.init}"
        + (f" pre-trained ({steps.size_label(args.pretrain_size)} texts)" if args.pretrain else "")
        + f"; lr {lr}; epochs {args.epochs}; batch {args.batch_size}; Matryoshka weights "
        f"{args.matryoshka_weights} (256,128,64,32); hard negatives: other paragraphs of the same SQuAD article"
        + ("; mined for the other sets" if args.mine_hard_negatives else "")
        + (f"; lexical directions, strength {args.lexical}" if args.lexical else "")
    )
    return common.publish(
        args.out,
        "scores",
        MODULE,
        title="Retrieval recipe: SciFact nDCG@10 (train queries) and STS-B dev Spearman, x100, per dimension",
        rows=steps.score_rows(results, DIMS),
        columns=["model", "task", *map(str, DIMS)],
        notes=[
            setup,
            steps.timings_note(timings, load),
            steps.rows_note(data),
            "No SciFact text (corpus, queries or qrels) is trained on.",
        ],
        data={
            "scores": steps.json_scores(results),
            "timings": timings,
            "load_average": load,
            "data": {k: len(v) for k, v in data.items()},
            "args": steps.recorded_args(args),
        },
    )


if __name__ == "__main__":
    main()
