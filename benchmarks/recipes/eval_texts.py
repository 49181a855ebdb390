"""The texts the recipes evaluate on, so that no training or pre-training text equals one of them.

The recipes score STS-B dev (11 languages), SciFact (its corpus and train queries) and 300 held-out FLORES-101
dev sentences; all of FLORES-101 dev is counted as a dev set here. The STS 2012-2016, STS-B test and SICK test
sets are not in ../shared/data (its README: parallel rows matching them were removed upstream), so they cannot
be checked here.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.recipes.data import read_jsonl_gz, read_sts_rows
from benchmarks.recipes.parallel import STS_LANGS, flores_file


def normalized(text: str) -> str:
    """`text` with runs of whitespace made one space, trimmed and case-folded: the key texts are compared by."""
    return " ".join(text.split()).casefold()


def stsb_dev_texts(data: Path) -> list[str]:
    """Both sentences of every STS-B dev pair, in all 11 languages."""
    rows = (row for lang in STS_LANGS for row in read_sts_rows(data / "sts" / f"stsb-{lang}-dev.csv"))
    return [text for s1, s2, _ in rows for text in (s1, s2)]


def scifact_texts(data: Path) -> list[str]:
    """SciFact's titles, abstracts, title + abstract (as `read_beir` joins them) and train queries."""
    folder = data / "retrieval" / "scifact"
    texts = []
    for record in read_jsonl_gz(folder / "corpus.jsonl.gz"):
        title, text = record.get("title", ""), record.get("text", "")
        texts += [title, text, f"{title} {text}"]
    with open(folder / "queries_train.jsonl", encoding="utf-8") as handle:
        texts += [json.loads(line)["text"] for line in handle if line.strip()]
    return texts


def flores_dev_english(data: Path) -> list[str]:
    """FLORES-101 dev's 997 English sentences (the multilingual recipe's 300 held-out ones among them)."""
    return list(dict.fromkeys(record["en"] for record in read_jsonl_gz(flores_file(data))))


def eval_texts(data: Path) -> dict[str, set[str]]:
    """Evaluation set -> its distinct texts, `normalized`."""
    sets = {
        "STS-B dev (11 languages)": stsb_dev_texts(data),
        "SciFact (corpus and train queries)": scifact_texts(data),
        "FLORES-101 dev (English)": flores_dev_english(data),
    }
    return {name: {normalized(t) for t in texts if t.strip()} for name, texts in sets.items()}
