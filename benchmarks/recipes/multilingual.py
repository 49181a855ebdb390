"""Recipe: a multilingual similarity model (256-dim-first Matryoshka) from ../shared/data, on 2 CPU cores.

    python -m benchmarks.recipes.multilingual --data ../shared/data --out benchmarks/results/multilingual

Steps:
1. Keep 300 of FLORES-101 dev's 997 sentences out of training in every language (the same sentences are
   aligned across languages), for cross-lingual retrieval.
2. Train a WordPiece tokenizer with `tokenizers` on the training text (lowercased, accents kept, CJK
   characters split as in BERT); `--measure-vocab` trains several sizes and writes their tokens per
   sentence and unknown rate on the held-out sentences, which is how the default size was chosen.
3. A random 256-dim table over it, distilled from an English teacher (`--distill`, the default): pre-trained
   (trainer.pretrain) so that each translation and each English sentence of up to 20,000 parallel pairs per
   language predicts all-MiniLM-L6-v2's vector of the English side (multilingual knowledge distillation,
   Reimers & Gurevych 2020; the English vectors are rows of the recipes' cached teacher pool), then trained with
   MatryoshkaLoss(MultipleNegativesRankingLoss) at lr 0.2 (Sentence Transformers' static recipe) on
   language-pure batches: one data set per language of parallel pairs (English <-> translation, either
   side as the anchor; FLORES, NTREX, WMT, TICO-19, multi30k and the STS-B translations' train
   sentences), plus STS-B train pairs scored >= 4 in 11 languages and some English caption pairs.
   No-duplicates batches keep an English sentence shared by many languages from being its own negative.
4. Score STS-B dev in 11 languages and cross-lingual retrieval (top-1, both directions, among the 300
   held-out sentences) in 20 languages per dimension, for the model and its 256-dim int8 bundle.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.recipes import steps
from benchmarks.recipes.data import caption_pairs
from benchmarks.recipes.dev_suite import english_suite
from benchmarks.recipes.parallel import (
    HELD_OUT,
    RETRIEVAL_LANGS,
    STS_LANGS,
    flores_file,
    held_out_english,
    held_out_pairs,
    oriented,
    parallel_pairs,
    sts_train_pairs,
    write_held_out,
)

MODULE = "benchmarks.recipes.multilingual"
DIMS = [32, 64, 128, 256]
HeldOut = dict[str, tuple[list[str], list[str]]]


def options() -> argparse.ArgumentParser:
    """The recipe's command line."""
    parser = steps.recipe_parser(__doc__, "multilingual", epochs=2.0, batch_size=1024)
    parser.add_argument(
        "--vocab-size", type=int, default=32_000, help="32k measured 0.02%% unknown tokens on the held-out sentences"
    )
    parser.add_argument("--measure-vocab", type=str, help="comma-separated sizes to measure, e.g. 16000,32000,64000")
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--max-pairs", type=int, default=15_000, help="parallel pairs kept per language at most")
    parser.add_argument("--min-pairs", type=int, default=8_000, help="thinner languages are repeated up to this")
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--matryoshka-weights", default="2,1,1,1", help="loss weight of dims 256,128,64,32")
    parser.add_argument("--caption-limit", type=int, default=20_000, help="English caption pairs kept")
    parser.add_argument(
        "--distill",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="before contrastive training, pre-train the random table so that both sides of each parallel pair "
        "(and each English sentence) predict all-MiniLM-L6-v2's vector of the English side (multilingual "
        "knowledge distillation; the English vectors come from the recipes' cached teacher pool). Default on: "
        "+2.8 STS-B dev (10 languages) and +8.6 cross-lingual top-1 (benchmarks/results/multilingual/steps.md)",
    )
    parser.add_argument("--distill-pairs", type=int, default=20_000, help="parallel pairs per language distilled")
    parser.add_argument("--distill-lr", type=float, default=0.05)
    parser.add_argument("--distill-epochs", type=float, default=3.0)
    return parser


def training_sets(args: argparse.Namespace, held_out: set[str]) -> tuple[dict[str, Any], dict[str, list]]:
    """The named training sets (per-language parallel pairs, STS-B train pairs, English captions) and the
    parallel pairs per language; no held-out sentence is among them."""
    from datasets import Dataset

    parallel = parallel_pairs(args.data, set(RETRIEVAL_LANGS) | set(STS_LANGS), held_out)
    leaked = {e for pairs in parallel.values() for e, _ in pairs} & held_out
    assert not leaked, f"{len(leaked)} held-out sentences in the training pairs"
    data = {
        f"parallel-{lang}": Dataset.from_dict(oriented(parallel[lang], i, args.max_pairs, args.min_pairs))
        for i, lang in enumerate(sorted(parallel))
    }
    data |= {
        f"stsb-train-{lang}": Dataset.from_dict(oriented(p, 100 + i))
        for i, (lang, p) in enumerate(sts_train_pairs(args.data).items())
    }
    data["multi30k-captions-en"] = Dataset.from_dict(
        caption_pairs(args.data / "pairs" / "multi30k-captions", args.caption_limit)
    )
    return data, parallel


def train_tokenizer(texts: list[str], vocab_size: int):
    """BERT-style WordPiece: lowercase but keep accents and combining marks (mBERT-uncased strips them,
    which erases Devanagari vowel signs), split CJK ideographs into characters."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def tokenizer_stats(tok, held_out: dict[str, tuple[list[str], list[str]]]) -> dict[str, float]:
    """Mean tokens per held-out sentence and share of [UNK] tokens, over the 20 languages' translations."""
    unk = tok.token_to_id("[UNK]")
    ids = [e.ids for _, others in held_out.values() for e in tok.encode_batch(others, add_special_tokens=False)]
    total = sum(map(len, ids))
    return {
        "tokens per sentence": total / len(ids),
        "unknown %": 100 * sum(i == unk for row in ids for i in row) / max(total, 1),
    }


def tokenizer_step(args: argparse.Namespace, data: dict[str, Any], held_out: HeldOut) -> tuple[Path, Any, list]:
    """Train the --vocab-size tokenizer (and each --measure-vocab size) on the training texts; returns its file,
    the tokenizer and one row per size measured on the held-out sentences."""
    texts = [t for ds in data.values() for column in ("anchor", "positive") for t in ds[column]]
    vocab_rows, chosen = [], None
    for size in sorted({int(s) for s in (args.measure_vocab or "").split(",") if s} | {args.vocab_size}):
        tok = train_tokenizer(texts, size)
        vocab_rows.append({"vocab size": size, "actual": tok.get_vocab_size(), **tokenizer_stats(tok, held_out)})
        if size == args.vocab_size:
            chosen = tok
    tokenizer_file = args.cache / "multilingual" / f"wordpiece-{args.vocab_size}.json"
    chosen.save(str(tokenizer_file))
    return tokenizer_file, chosen, vocab_rows


def distillation_texts(parallel: dict[str, list], per_language: int) -> tuple[list[str], list[str]]:
    """(texts, English source of each): up to `per_language` seeded pairs of each language, their translations
    paired with their English side, then every distinct English sentence of those pairs with itself."""
    import random

    texts, sources = [], []
    for i, lang in enumerate(sorted(parallel)):
        pairs = list(dict.fromkeys(p for p in parallel[lang] if p[0].strip() and p[1].strip()))
        for english, other in random.Random(i).sample(pairs, min(per_language, len(pairs))):
            texts.append(other)
            sources.append(english)
    english = list(dict.fromkeys(sources))
    return texts + english, sources + english


def distilled_start(args: argparse.Namespace, parallel: dict[str, list], tokenizer: Path, timings: dict) -> Path:
    """A random table over `tokenizer` pre-trained (trainer.pretrain, projection targets) so that each text
    predicts the teacher's vector of its English side (`distillation_texts`); cached in --cache."""
    from benchmarks.recipes.teacher_pool import teacher_pool
    from static_edge.trainer.distill import default_teacher
    from static_edge.trainer.pretrain import PretrainConfig
    from static_edge.trainer.train import init_model

    teacher = default_teacher()
    texts, sources = distillation_texts(parallel, args.distill_pairs)
    config = PretrainConfig(epochs=args.distill_epochs, learning_rate=args.distill_lr, batch_size=1024)
    return steps.cached_pretraining(
        lambda: init_model(None, tokenizer=tokenizer, dims=args.dims),
        f"multilingual-{tokenizer.stem}-{args.dims}-distilled",
        f"{teacher}\0{hashlib.sha256(tokenizer.read_bytes()).hexdigest()}",
        texts,
        lambda: teacher_pool(teacher, args.data, args.cache).vectors_of(sources),
        args.cache,
        config,
        timings,
    )


def evaluate_models(args: argparse.Namespace, trained: Path, bundle: Path, held_out: HeldOut) -> dict[str, Any]:
    """STS-B dev in 11 languages and cross-lingual top-1 in 20, for the model and its 256-dim int8 bundle."""
    from static_edge.trainer.evaluate import ParallelData, read_sts

    english_sts, english_retrieval = english_suite(args.data)  # the English dev suite, as the other recipes report
    sts = {f"stsb-{lang}-dev": read_sts(args.data / "sts" / f"stsb-{lang}-dev.csv") for lang in STS_LANGS}
    xling = {f"flores300-{lang}": ParallelData(*held_out[lang]) for lang in RETRIEVAL_LANGS}
    score = steps.scorer(english_sts | sts, english_retrieval, parallel=xling)
    return {"trained": score(trained, DIMS), "bundle 256 int8": score(bundle, [256], "int8")}


def main() -> None:
    """Run the recipe: held-out split, data, tokenizer, training, export, evaluation, results."""
    from static_edge.trainer.train import init_model

    args = options().parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    english = held_out_english(flores_file(args.data))
    held_out = held_out_pairs(flores_file(args.data), english, RETRIEVAL_LANGS)
    heldout_file = args.cache / "multilingual" / f"flores101_dev_heldout_{HELD_OUT}.jsonl.gz"
    write_held_out(held_out, heldout_file)  # for `static-edge eval --parallel`
    with steps.timed(timings, "data"):
        data, parallel = training_sets(args, set(english))
    with steps.timed(timings, "tokenizer"):
        tokenizer_file, tokenizer, vocab_rows = tokenizer_step(args, data, held_out)
    start_folder = distilled_start(args, parallel, tokenizer_file, timings) if args.distill else None
    model = init_model(start_folder, tokenizer=tokenizer_file, dims=args.dims)
    start = time.time()
    dims = [d for d in (256, 128, 64, 32) if d <= args.dims]
    weights = steps.weights(args.matryoshka_weights)[: len([d for d in DIMS if d <= args.dims])]
    config = steps.train_config(args, dims, args.lr, start_folder, matryoshka_weights=weights)
    trained, bundle = steps.train_and_export(model, data, args.out, config, timings, start, "train")
    with steps.timed(timings, "evaluate"):
        results = evaluate_models(args, trained, bundle, held_out)
    load = steps.end_of_run(timings)
    per_sts, per_xling = per_language(results, parallel)
    steps.write_card(trained, args.out, None, data, results["trained"])
    notes = [
        f"Init: random {args.dims}-dim table over a {tokenizer.get_vocab_size():,}-token WordPiece trained here"
        + (
            f", distilled from all-MiniLM-L6-v2 through {args.distill_pairs:,} parallel pairs per language "
            f"(lr {args.distill_lr}, {args.distill_epochs} epochs); "
            if args.distill
            else "; "
        )
        + f"lr {args.lr}; epochs {args.epochs}; batch {args.batch_size}; Matryoshka weights "
        f"{args.matryoshka_weights}; language-pure, no-duplicates batches.",
        f"Held-out: {HELD_OUT} FLORES-101 dev sentences, removed from training in every language; score a bundle "
        f"on them with `static-edge eval BUNDLE --parallel {heldout_file}` (written by this recipe).",
        steps.timings_note(timings, load),
        steps.rows_note(data),
    ]
    sections = {
        "English dev suite, retrieval (benchmarks.recipes.dev_suite; nDCG@10 x100; STS-B dev en is above)": [
            {"task": task, **{f"trained {d}": results["trained"][task][d] for d in DIMS[::-1]}}
            for task in results["trained"]
            if task.startswith("retrieval:")
        ],
        "STS-B dev per language (Spearman x100)": per_sts,
        "Cross-lingual retrieval per language (top-1 % among 300 held-out FLORES sentences, mean of en->xx "
        "and xx->en)": per_xling,
        "Tokenizer size (measured on the held-out sentences of the 20 languages)": vocab_rows,
    }
    data_json = {"scores": steps.json_scores(results), "timings": timings, "load_average": load}
    write_scores(args, results, sections, notes, {**data_json, "args": steps.recorded_args(args)})
    plot_per_language(per_sts, per_xling, args.out / "per_language.png")
    print((args.out / "scores.md").read_text())


def summary(scores: dict[str, dict[int, float]], dim: int) -> dict[str, float]:
    """English STS-B, the mean of the other 10 languages' STS-B, and the mean cross-lingual top-1 at `dim`."""
    non_english = [scores[f"sts:stsb-{lang}-dev"][dim] for lang in STS_LANGS[1:]]
    xl = [scores[f"parallel:flores300-{lang}"][dim] for lang in RETRIEVAL_LANGS]
    return {
        "STS-B dev en": scores["sts:stsb-en-dev"][dim],
        "STS-B dev mean of 10 others": sum(non_english) / len(non_english),
        "cross-lingual top-1 mean of 20": sum(xl) / len(xl),
    }


def per_language(results: dict[str, Any], parallel: dict[str, list]) -> tuple[list[dict], list[dict]]:
    """The STS-B rows (11 languages) and the cross-lingual rows (20 languages) of the per-language tables."""

    def row(lang: str, task: str) -> dict[str, Any]:
        trained, bundle = results["trained"][task], results["bundle 256 int8"][task]
        return {
            "language": lang,
            "trained 256": trained[256],
            "bundle 256 int8": bundle[256],
            **{f"trained {d}": trained[d] for d in (128, 64, 32)},
        }

    per_sts = [row(lang, f"sts:stsb-{lang}-dev") for lang in STS_LANGS]
    per_xling = [
        {**row(lang, f"parallel:flores300-{lang}"), "training pairs": len(parallel.get(lang, []))}
        for lang in RETRIEVAL_LANGS
    ]
    return per_sts, per_xling


def write_scores(args: argparse.Namespace, results: dict, sections: dict, notes: list[str], data: dict) -> Path:
    """scores.md and scores.json (the summary per dimension and the per-language tables) and scores.png."""
    from static_edge.trainer.plots import plot_scores_by_dims

    rows = [{"model": "trained", "dims": d, **summary(results["trained"], d)} for d in DIMS]
    rows.append({"model": "bundle 256 int8", "dims": 256, **summary(results["bundle 256 int8"], 256)})
    by_dim = {d: summary(results["trained"], d) for d in DIMS}
    curves = {name: {d: by_dim[d][name] for d in DIMS} for name in by_dim[DIMS[0]]}
    return common.publish(
        args.out,
        "scores",
        MODULE,
        title="Multilingual recipe: STS-B dev Spearman (11 languages) and cross-lingual top-1 (20 languages), x100",
        rows=rows,
        sections=sections,
        notes=notes,
        data=data,
        plot=lambda path: plot_scores_by_dims(
            curves, path, title="Multilingual recipe (trained model, per Matryoshka dim)"
        ),
    )


def plot_per_language(per_sts: list[dict], per_xling: list[dict], path: Path) -> Path:
    """The 256-dim int8 bundle's score per language: STS-B dev beside cross-lingual top-1."""
    fig, axes = common.figure(2, (11, 4), dpi=120, gridspec_kw={"width_ratios": [11, 20]})
    for ax, rows, title in (
        (axes[0], per_sts, "STS-B dev (Spearman x100)"),
        (axes[1], per_xling, "cross-lingual top-1 %"),
    ):
        names = [r["language"] for r in rows]
        ax.bar(names, [r["bundle 256 int8"] for r in rows], color="tab:blue")
        ax.set_title(f"{title}, 256-dim int8 bundle", fontsize=9)
        ax.set_ylim(0, 100)
        ax.grid(True, axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    return common.save(fig, path)


if __name__ == "__main__":
    main()
