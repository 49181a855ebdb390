"""Recipe: a multilingual similarity model (256-dim-first Matryoshka) from ../shared/data, on 2 CPU cores.

    python -m benchmarks.recipes.multilingual --data ../shared/data --out benchmarks/results/multilingual

Steps:
1. Keep 300 of FLORES-101 dev's 997 sentences out of training in every language (the same sentences are
   aligned across languages), for cross-lingual retrieval.
2. Train a WordPiece tokenizer with `tokenizers` on the training text (lowercased, accents kept, CJK
   characters split as in BERT); `--measure-vocab` trains several sizes and writes their tokens per
   sentence and unknown rate on the held-out sentences, which is how the default size was chosen.
3. A random 256-dim table over it (no teacher serves these languages offline), trained with
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
import csv
import gzip
import json
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
RETRIEVAL_LANGS = "de fr es it nl pl pt ru uk cs sv fi tr ar hi zh ja ko vi id".split()
STS_LANGS = "en de es fr it ja nl pl pt ru zh".split()
PARALLEL_SETS = [
    ("flores101_dev", "flores101_dev.jsonl.gz"),
    ("ntrex128", "ntrex128.jsonl.gz"),
    ("wmt_newstest", "wmt_newstest_2008_2022.jsonl.gz"),
    ("tico19_test", "tico19_test.jsonl.gz"),
]
HELD_OUT = 300


def base_lang(tag: str) -> str:
    """`pt-BR` -> `pt`, `zh-Hant` -> `zh`: the training language a tag counts for."""
    return tag.split("-")[0]


def held_out_english(flores: Path, count: int = HELD_OUT, seed: int = 13) -> list[str]:
    """`count` of FLORES dev's English sentences, chosen at random once (fixed seed)."""
    english = list(dict.fromkeys(r["en"] for r in read_jsonl_gz(flores)))
    return sorted(random.Random(seed).sample(english, count), key=english.index)


def held_out_pairs(flores: Path, english: list[str], langs: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """lang -> (English sentences, their translations), in `english` order, for the held-out sentences."""
    wanted = set(english)
    by_lang: dict[str, dict[str, str]] = defaultdict(dict)
    for record in read_jsonl_gz(flores):
        if record["lang"] in langs and record["en"] in wanted:
            by_lang[record["lang"]][record["en"]] = record["other"]
    return {lang: (english, [by_lang[lang][e] for e in english]) for lang in langs}


def read_lines_gz(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.strip() for line in handle]


def read_sts_rows(path: Path) -> list[tuple[str, str, float]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [(s1, s2, float(score)) for s1, s2, score in csv.reader(handle)]


def parallel_pairs(data: Path, langs: set[str], held_out: set[str]) -> dict[str, list[tuple[str, str]]]:
    """lang -> (English, translation) pairs from every parallel source, held-out English sentences removed."""
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for folder, name in PARALLEL_SETS:
        for record in read_jsonl_gz(data / "parallel" / folder / name):
            lang = base_lang(record["lang"])
            if lang in langs and record["en"] not in held_out:
                pairs[lang].append((record["en"], record["other"]))
    english = read_lines_gz(data / "parallel" / "multi30k" / "train.en.gz")
    for lang in ("de", "fr", "cs"):
        if lang in langs:
            other = read_lines_gz(data / "parallel" / "multi30k" / f"train.{lang}.gz")
            pairs[lang] += [(e, o) for e, o in zip(english, other, strict=True) if e and o]
    english_sts = read_sts_rows(data / "sts" / "stsb-en-train.csv")
    for lang in STS_LANGS[1:]:
        if lang in langs:  # the STS-B translations are line-aligned with the English original
            rows = read_sts_rows(data / "sts" / f"stsb-{lang}-train.csv")
            for (e1, e2, _), (o1, o2, _) in zip(english_sts, rows, strict=True):
                pairs[lang] += [(e1, o1), (e2, o2)]
    return pairs


def sts_train_pairs(data: Path, min_score: float = 4.0) -> dict[str, list[tuple[str, str]]]:
    return {
        lang: [
            (s1, s2) for s1, s2, score in read_sts_rows(data / "sts" / f"stsb-{lang}-train.csv") if score >= min_score
        ]
        for lang in STS_LANGS
    }


def oriented(pairs: list[tuple[str, str]], seed: int, most: int | None = None, least: int = 0) -> dict[str, list[str]]:
    """Deduplicated pairs, each with a random side as the anchor (the loss ranks anchor -> positive only).

    At most `most` pairs are kept (a random subset); a language with fewer than `least` is repeated up to
    about that many, so thin languages get more than a few batches per epoch.
    """
    rng = random.Random(seed)
    unique = list(dict.fromkeys(p for p in pairs if p[0].strip() and p[1].strip() and p[0] != p[1]))
    if most is not None and len(unique) > most:
        unique = rng.sample(unique, most)
    if unique and len(unique) < least:
        unique = unique * round(least / len(unique))
    rows = {"anchor": [], "positive": []}
    for a, b in unique:
        if rng.random() < 0.5:
            a, b = b, a
        rows["anchor"].append(a)
        rows["positive"].append(b)
    return rows


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/multilingual"))
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    parser.add_argument(
        "--vocab-size", type=int, default=32_000, help="32k measured 0.02%% unknown tokens on the held-out sentences"
    )
    parser.add_argument("--measure-vocab", type=str, help="comma-separated sizes to measure, e.g. 16000,32000,64000")
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-pairs", type=int, default=15_000, help="parallel pairs kept per language at most")
    parser.add_argument("--min-pairs", type=int, default=8_000, help="thinner languages are repeated up to this")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--matryoshka-weights", default="2,1,1,1", help="loss weight of dims 256,128,64,32")
    parser.add_argument("--caption-limit", type=int, default=20_000, help="English caption pairs kept")
    args = parser.parse_args()
    command = "python -m benchmarks.recipes.multilingual " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    from datasets import Dataset

    from benchmarks.recipes.steps import train_and_export
    from benchmarks.recipes.english import caption_pairs
    from static_edge.runtimes.results import write_results
    from static_edge.trainer.evaluate import ParallelData, evaluate, model_encoder, read_sts
    from static_edge.trainer.model_card import write_model_card
    from static_edge.trainer.plots import plot_scores_by_dims
    from static_edge.trainer.train import TrainConfig, init_model

    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    langs = set(RETRIEVAL_LANGS) | set(STS_LANGS)
    flores = args.data / "parallel" / "flores101_dev" / "flores101_dev.jsonl.gz"
    english = held_out_english(flores)
    held_out = held_out_pairs(flores, english, RETRIEVAL_LANGS)
    heldout_file = args.cache / "multilingual" / f"flores101_dev_heldout_{HELD_OUT}.jsonl.gz"
    heldout_file.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(heldout_file, "wt", encoding="utf-8") as handle:  # for `static-edge eval --parallel`
        for lang, (sources, targets) in held_out.items():
            for en, other in zip(sources, targets, strict=True):
                handle.write(json.dumps({"lang": lang, "en": en, "other": other}, ensure_ascii=False) + "\n")

    start = time.time()
    parallel = parallel_pairs(args.data, langs, set(english))
    leaked = {e for pairs in parallel.values() for e, _ in pairs} & set(english)
    assert not leaked, f"{len(leaked)} held-out sentences in the training pairs"
    sts_pairs = sts_train_pairs(args.data)
    data = {
        f"parallel-{lang}": Dataset.from_dict(oriented(parallel[lang], i, args.max_pairs, args.min_pairs))
        for i, lang in enumerate(sorted(parallel))
    }
    data |= {
        f"stsb-train-{lang}": Dataset.from_dict(oriented(p, 100 + i)) for i, (lang, p) in enumerate(sts_pairs.items())
    }
    data["multi30k-captions-en"] = Dataset.from_dict(
        caption_pairs(args.data / "pairs" / "multi30k-captions", args.caption_limit)
    )
    timings["data"] = time.time() - start

    start = time.time()
    texts = [t for ds in data.values() for column in ("anchor", "positive") for t in ds[column]]
    vocab_rows = []
    for size in sorted({int(s) for s in (args.measure_vocab or "").split(",") if s} | {args.vocab_size}):
        tok = train_tokenizer(texts, size)
        vocab_rows.append({"vocab size": size, "actual": tok.get_vocab_size(), **tokenizer_stats(tok, held_out)})
        if size == args.vocab_size:
            chosen = tok
    tokenizer_file = args.cache / "multilingual" / f"wordpiece-{args.vocab_size}.json"
    chosen.save(str(tokenizer_file))
    timings["tokenizer"] = time.time() - start

    start = time.time()
    model = init_model(None, tokenizer=tokenizer_file, dims=args.dims)
    config = TrainConfig(
        matryoshka_dims=[d for d in (256, 128, 64, 32) if d <= args.dims],
        matryoshka_weights=[float(w) for w in args.matryoshka_weights.split(",")][
            : len([d for d in DIMS if d <= args.dims])
        ],
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=0.1,
        logging_steps=10,
        save_steps=100_000,
    )
    trained, bundle = train_and_export(model, data, args.out, config, timings, start, "train")

    start = time.time()
    sts = {f"stsb-{lang}-dev": read_sts(args.data / "sts" / f"stsb-{lang}-dev.csv") for lang in STS_LANGS}
    xling = {f"flores300-{lang}": ParallelData(*held_out[lang]) for lang in RETRIEVAL_LANGS}
    results = {}
    for name, path, variant, dims in (("trained", trained, None, DIMS), ("bundle 256 int8", bundle, "int8", [256])):
        encode, _, _ = model_encoder(path, variant, batch_size=1024)
        results[name] = evaluate(encode, dims, sts=sts, parallel=xling)
    timings["evaluate"] = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    timings["CPU time, all threads"] = usage.ru_utime + usage.ru_stime

    def summary(scores: dict[str, dict[int, float]], dim: int) -> dict[str, float]:
        non_english = [scores[f"sts:stsb-{lang}-dev"][dim] for lang in STS_LANGS[1:]]
        xl = [scores[f"parallel:flores300-{lang}"][dim] for lang in RETRIEVAL_LANGS]
        return {
            "STS-B dev en": scores["sts:stsb-en-dev"][dim],
            "STS-B dev mean of 10 others": sum(non_english) / len(non_english),
            "cross-lingual top-1 mean of 20": sum(xl) / len(xl),
        }

    rows = [{"model": "trained", "dims": d, **summary(results["trained"], d)} for d in DIMS]
    rows.append({"model": "bundle 256 int8", "dims": 256, **summary(results["bundle 256 int8"], 256)})
    per_sts = [
        {
            "language": lang,
            "trained 256": results["trained"][f"sts:stsb-{lang}-dev"][256],
            "bundle 256 int8": results["bundle 256 int8"][f"sts:stsb-{lang}-dev"][256],
            **{f"trained {d}": results["trained"][f"sts:stsb-{lang}-dev"][d] for d in (128, 64, 32)},
        }
        for lang in STS_LANGS
    ]
    per_xling = [
        {
            "language": lang,
            "trained 256": results["trained"][f"parallel:flores300-{lang}"][256],
            "bundle 256 int8": results["bundle 256 int8"][f"parallel:flores300-{lang}"][256],
            **{f"trained {d}": results["trained"][f"parallel:flores300-{lang}"][d] for d in (128, 64, 32)},
            "training pairs": len(parallel.get(lang, [])),
        }
        for lang in RETRIEVAL_LANGS
    ]
    write_model_card(trained, init=None, data={k: len(v) for k, v in data.items()}, scores=results["trained"])
    (args.out / "MODEL_CARD.md").write_text((trained / "README.md").read_text())
    load = os.getloadavg()
    write_results(
        args.out,
        "scores",
        title="Multilingual recipe: STS-B dev Spearman (11 languages) and cross-lingual top-1 (20 languages), x100",
        command=command,
        rows=rows,
        sections={
            "STS-B dev per language (Spearman x100)": per_sts,
            "Cross-lingual retrieval per language (top-1 % among 300 held-out FLORES sentences, mean of en->xx "
            "and xx->en)": per_xling,
            "Tokenizer size (measured on the held-out sentences of the 20 languages)": vocab_rows,
        },
        notes=[
            f"Init: random {args.dims}-dim table over a {chosen.get_vocab_size():,}-token WordPiece trained here; "
            f"lr {args.lr}; epochs {args.epochs}; batch {args.batch_size}; Matryoshka weights "
            f"{args.matryoshka_weights}; language-pure, no-duplicates batches.",
            f"Held-out: {HELD_OUT} FLORES-101 dev sentences, removed from training in every language; score a bundle "
            f"on them with `static-edge eval BUNDLE --parallel {heldout_file}` (written by this recipe).",
            "Timings (s): "
            + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
            + f"; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)",
            "Training rows: " + ", ".join(f"{k} {len(v):,}" for k, v in data.items()),
        ],
        data={
            "scores": {m: {t: {str(d): v for d, v in bd.items()} for t, bd in ts.items()} for m, ts in results.items()},
            "timings": timings,
            "load_average": load,
            "args": {k: str(v) for k, v in vars(args).items()},
        },
    )
    plot_scores_by_dims(
        {
            "STS-B dev en": {d: results["trained"]["sts:stsb-en-dev"][d] for d in DIMS},
            "STS-B dev mean of 10 others": {
                d: summary(results["trained"], d)["STS-B dev mean of 10 others"] for d in DIMS
            },
            "cross-lingual top-1 mean of 20": {
                d: summary(results["trained"], d)["cross-lingual top-1 mean of 20"] for d in DIMS
            },
        },
        args.out / "scores.png",
        title="Multilingual recipe (trained model, per Matryoshka dim)",
    )
    plot_per_language(per_sts, per_xling, args.out / "per_language.png")
    print((args.out / "scores.md").read_text())


def plot_per_language(per_sts: list[dict], per_xling: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=120, gridspec_kw={"width_ratios": [11, 20]})
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
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
