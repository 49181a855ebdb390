"""Recipe: an English query -> passage retrieval model (256-dim-first Matryoshka), on 2 CPU cores.

    python -m benchmarks.recipes.retrieval --data ../shared/data --out benchmarks/results/retrieval

Steps: start from all-MiniLM-L6-v2 distilled with model2vec (256 dims, PCA; `--init mpnet` distills
all-mpnet-base-v2 instead, `--init random` starts from a random table over the MiniLM tokenizer), pre-train
that table on the teacher's vectors of 60,000 questions, passages and sentences (trainer.pretrain;
`--no-pretrain` skips it), train
MatryoshkaLoss(MultipleNegativesRankingLoss), the 256-dim loss weighted first, on SQuAD question -> paragraph
pairs with a hard negative (another paragraph of the same article), MedQuAD and PubMedQA question -> passage
pairs, plus the English similarity recipe's pairs (captions, SNLI, MRPC, STS-B train), in no-duplicates
batches (a SQuAD paragraph answers about 4.6 questions), then evaluate SciFact nDCG@10 on its train queries
(no SciFact text is trained on) and STS-B dev per dimension, for the start, the trained model and its 256-dim
int8 bundle.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.recipes.steps import read_jsonl_gz

DIMS = [32, 64, 128, 256]


def squad_triplets(path: Path, seed: int = 0) -> dict[str, list[str]]:
    """SQuAD question -> its paragraph, with another paragraph of the same article as the hard negative."""
    rng = random.Random(seed)
    records = list(read_jsonl_gz(path))
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record["positive"] not in paragraphs[record["title"]]:
            paragraphs[record["title"]].append(record["positive"])
    rows = {"anchor": [], "positive": [], "negative": []}
    for record in records:
        others = [p for p in paragraphs[record["title"]] if p != record["positive"]]
        if others:
            rows["anchor"].append(record["query"])
            rows["positive"].append(record["positive"])
            rows["negative"].append(rng.choice(others))
    return rows


def question_passage_pairs(path: Path) -> dict[str, list[str]]:
    rows = {"anchor": [], "positive": []}
    for record in read_jsonl_gz(path):
        if record.get("query") and record.get("positive"):
            rows["anchor"].append(record["query"])
            rows["positive"].append(record["positive"])
    return rows


def build_retrieval_datasets(data: Path) -> dict:
    from datasets import Dataset

    folder = data / "retrieval"
    return {
        "squad-triplets": Dataset.from_dict(squad_triplets(folder / "squad_v1.1_train" / "squad_v1.1_train.jsonl.gz")),
        "medquad": Dataset.from_dict(question_passage_pairs(folder / "medquad" / "medquad.jsonl.gz")),
        "pubmedqa": Dataset.from_dict(
            question_passage_pairs(folder / "pubmedqa_pqal" / "pubmedqa_pqal_trainval.jsonl.gz")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/retrieval"))
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    parser.add_argument(
        "--init", choices=["minilm", "mpnet", "random"], default="minilm", help="distilled teacher or a random table"
    )
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=1024)
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
        "--pretrain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pre-train the distilled start on its teacher's vectors of --pretrain-size questions and passages "
        "(trainer.pretrain over benchmarks.recipes.pretrain_texts.retrieval_corpus) before contrastive training "
        "(default: on for a distilled start)",
    )
    parser.add_argument("--pretrain-size", type=int, default=60_000)
    parser.add_argument("--pretrain-lr", type=float, default=0.01)
    parser.add_argument("--pretrain-epochs", type=float, default=5.0)
    parser.add_argument("--pretrain-targets", default="projection", choices=["projection", "pca", "aligned"])
    args = parser.parse_args()
    if args.pretrain and args.init == "random":
        parser.error("--pretrain needs a distilled start (--init minilm or mpnet)")
    args.pretrain = args.init != "random" if args.pretrain is None else args.pretrain
    command = "python -m benchmarks.recipes.retrieval " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    from benchmarks.recipes.steps import pretrained_start, train_and_export
    from benchmarks.recipes.english import build_datasets
    from static_edge.runtimes.results import write_results
    from static_edge.trainer.distill import default_teacher, distill
    from static_edge.trainer.evaluate import evaluate, model_encoder, read_beir, read_sts
    from static_edge.trainer.model_card import write_model_card
    from static_edge.trainer.plots import plot_scores_by_dims
    from static_edge.trainer.teachers import mpnet_teacher
    from static_edge.trainer.train import TrainConfig, init_model

    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    sts = {"stsb-en-dev": read_sts(args.data / "sts" / "stsb-en-dev.csv")}
    retrieval = {"scifact-train": read_beir(args.data / "retrieval" / "scifact", "train")}

    def score(path: Path, dims: list[int], variant: str | None = None):
        encode, full, _ = model_encoder(path, variant, batch_size=1024)
        return evaluate(encode, [d for d in dims if d <= full], sts, retrieval)

    start = time.time()
    teacher_name = "mpnet" if args.init == "mpnet" else "minilm"  # random init borrows MiniLM's tokenizer
    base = args.cache / f"{teacher_name}-static-256"
    teacher = None
    if args.pretrain or not (base / "modules.json").is_file():  # the teacher is needed to distil or pre-train
        teacher = mpnet_teacher(args.cache) if teacher_name == "mpnet" else default_teacher()
    if not (base / "modules.json").is_file():
        distill(teacher, base, pca_dims=256, overwrite=True)
    timings["teacher + distill"] = time.time() - start
    start_name = {"minilm": "distilled all-MiniLM-L6-v2 (start)", "mpnet": "distilled all-mpnet-base-v2 (start)"}
    start_label = start_name.get(args.init)
    if args.pretrain:
        from benchmarks.recipes.pretrain_texts import retrieval_corpus
        from static_edge.trainer.pretrain import PretrainConfig

        pretrain_config = PretrainConfig(
            epochs=args.pretrain_epochs, learning_rate=args.pretrain_lr, targets=args.pretrain_targets
        )
        texts = retrieval_corpus(args.data, args.pretrain_size)
        base = pretrained_start(base, teacher, texts, args.cache, pretrain_config, timings)
        start_label = start_label.replace("distilled", "distilled + pre-trained")

    start = time.time()
    data = build_retrieval_datasets(args.data)
    if not args.no_english_pairs:
        data.update(build_datasets(args.data, caption_limit=args.caption_limit))
    if args.init == "random":
        model = init_model(None, tokenizer=base, dims=256)
    else:
        model = init_model(base)
    lr = args.lr if args.lr is not None else (0.2 if args.init == "random" else 0.02)
    config = TrainConfig(
        matryoshka_dims=[256, 128, 64, 32],
        matryoshka_weights=[float(w) for w in args.matryoshka_weights.split(",")],
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=lr,
        warmup_ratio=0.1,
        logging_steps=10,
        save_steps=100_000,
        mine_hard_negatives=args.mine_hard_negatives,
    )
    trained, bundle = train_and_export(model, data, args.out, config, timings, start, "train")

    start = time.time()
    results = {}
    if start_label is not None:
        results[start_label] = score(base, DIMS)
    results["trained"] = score(trained, DIMS)
    results["trained, bundle 256 int8"] = score(bundle, [256], "int8")
    timings["evaluate"] = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    timings["CPU time, all threads"] = usage.ru_utime + usage.ru_stime

    write_model_card(
        trained,
        init=None if args.init == "random" else str(base),
        data={k: len(v) for k, v in data.items()},
        scores=results["trained"],
    )
    (args.out / "MODEL_CARD.md").write_text((trained / "README.md").read_text())
    rows = []
    for model_name, tasks in results.items():
        for task, by_dim in tasks.items():
            rows.append({"model": model_name, "task": task, **{str(d): by_dim.get(d) for d in DIMS}})
    load = os.getloadavg()
    write_results(
        args.out,
        "scores",
        title="Retrieval recipe: SciFact nDCG@10 (train queries) and STS-B dev Spearman, x100, per dimension",
        command=command,
        rows=rows,
        columns=["model", "task", *map(str, DIMS)],
        notes=[
            f"Init: {args.init}"
            + (f" pre-trained ({args.pretrain_size:,} texts)" if args.pretrain else "")
            + f"; lr {lr}; epochs {args.epochs}; batch {args.batch_size}; Matryoshka weights "
            f"{args.matryoshka_weights} (256,128,64,32); hard negatives: other paragraphs of the same SQuAD article"
            + ("; mined for the other sets" if args.mine_hard_negatives else ""),
            "Timings (s): "
            + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
            + f"; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)",
            "Training rows: " + ", ".join(f"{k} {len(v):,}" for k, v in data.items()),
            "No SciFact text (corpus, queries or qrels) is trained on.",
        ],
        data={
            "scores": {m: {t: {str(d): v for d, v in bd.items()} for t, bd in ts.items()} for m, ts in results.items()},
            "timings": timings,
            "load_average": load,
            "data": {k: len(v) for k, v in data.items()},
            "args": {k: str(v) for k, v in vars(args).items()},
        },
    )
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


if __name__ == "__main__":
    main()
