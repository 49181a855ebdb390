"""The multilingual recipe's data from ../shared/data: held-out FLORES sentences, parallel and STS-B pairs.

FLORES-101 dev's sentences are aligned across languages: `HELD_OUT` of them are kept out of training in every
language and serve as the cross-lingual retrieval test.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

from benchmarks.recipes.data import Columns, read_jsonl_gz, read_lines_gz, read_sts_rows

RETRIEVAL_LANGS = "de fr es it nl pl pt ru uk cs sv fi tr ar hi zh ja ko vi id".split()
STS_LANGS = "en de es fr it ja nl pl pt ru zh".split()
PARALLEL_SETS = [
    ("flores101_dev", "flores101_dev.jsonl.gz"),
    ("ntrex128", "ntrex128.jsonl.gz"),
    ("wmt_newstest", "wmt_newstest_2008_2022.jsonl.gz"),
    ("tico19_test", "tico19_test.jsonl.gz"),
]
HELD_OUT = 300
Pairs = list[tuple[str, str]]


def flores_file(data: Path) -> Path:
    """FLORES-101 dev: one record per (English sentence, language, translation)."""
    return data / "parallel" / "flores101_dev" / "flores101_dev.jsonl.gz"


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


def write_held_out(held_out: dict[str, tuple[list[str], list[str]]], path: Path) -> Path:
    """The held-out pairs as JSON lines (`lang`, `en`, `other`): what `static-edge eval --parallel` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for lang, (sources, targets) in held_out.items():
            for en, other in zip(sources, targets, strict=True):
                handle.write(json.dumps({"lang": lang, "en": en, "other": other}, ensure_ascii=False) + "\n")
    return path


def parallel_pairs(data: Path, langs: set[str], held_out: set[str]) -> dict[str, Pairs]:
    """lang -> (English, translation) pairs from every parallel source, held-out English sentences removed."""
    pairs: dict[str, Pairs] = defaultdict(list)
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


def sts_train_pairs(data: Path, min_score: float = 4.0) -> dict[str, Pairs]:
    """lang -> the STS-B train pairs scored at least `min_score` (of 5) in that language."""
    return {
        lang: [
            (s1, s2) for s1, s2, score in read_sts_rows(data / "sts" / f"stsb-{lang}-train.csv") if score >= min_score
        ]
        for lang in STS_LANGS
    }


def oriented(pairs: Pairs, seed: int, most: int | None = None, least: int = 0) -> Columns:
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
    rows: Columns = {"anchor": [], "positive": []}
    for a, b in unique:
        if rng.random() < 0.5:
            a, b = b, a
        rows["anchor"].append(a)
        rows["positive"].append(b)
    return rows
