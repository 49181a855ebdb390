"""The small data folder in the layout of ../shared/data that the recipe-module tests read."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from benchmarks.recipes.parallel import STS_LANGS


def _gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)


def _jsonl(path: Path, records: list[dict]) -> None:
    _gz(path, [json.dumps(record) for record in records])


def _text(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """One or two texts per source; some equal (up to case and spaces) an evaluation item or an earlier source."""
    root = tmp_path / "data"
    _text(root / "README.md", "test data\n")
    (root / "corpus").mkdir(parents=True)
    with zipfile.ZipFile(root / "corpus" / "brown.zip", "w") as archive:
        archive.writestr(
            "brown/ca01", "\tThe/at jury/nn said/vbd it/pps ./.\n\n\tA/at dog/nn barked/vbd loudly/rb ./.\n"
        )
    _text(root / "sts" / "stsb-en-train.csv", "A man is playing a flute.,A MAN  is playing a guitar.,2.5\n")
    for lang in STS_LANGS:
        _text(root / "sts" / f"stsb-{lang}-dev.csv", "a man is playing a guitar.,Dev sentence two.,3.0\n")
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    _text(root / "paraphrase" / "msr_paraphrase_train.txt", header + "1\t1\t2\tNews one.\tNews two.\n")
    for k in range(1, 6):
        _gz(root / "pairs" / "multi30k-captions" / f"train.{k}.en.gz", [f"Caption {k}.", "A dog runs."])
    _gz(root / "parallel" / "multi30k" / "train.en.gz", ["Caption 1.", "A fresh translation."])
    for name, text in (("s1", "A dog runs ."), ("s2", "Nobody is here .")):
        for split in ("dev", "test"):
            _text(root / "nli" / f"{name}.{split}", text + "\n")
    _jsonl(
        root / "parallel" / "ntrex128" / "ntrex128.jsonl.gz", [{"lang": "de", "en": "News of the day.", "other": "x"}]
    )
    wmt = [
        {"lang": "ru", "en": "A FLORES sentence.", "other": "y"},
        {"lang": "ja", "en": "News of the day.", "other": "z"},
    ]
    _jsonl(root / "parallel" / "wmt_newstest" / "wmt_newstest_2008_2022.jsonl.gz", wmt)
    _jsonl(
        root / "parallel" / "tico19_test" / "tico19_test.jsonl.gz", [{"lang": "ar", "en": "Wash hands.", "other": "w"}]
    )
    _jsonl(
        root / "parallel" / "flores101_dev" / "flores101_dev.jsonl.gz",
        [{"lang": "de", "en": "A FLORES sentence.", "other": "v"}],
    )
    squad = [
        {"query": f"Question {q} on article {k}?", "positive": f"Paragraph {p} of article {k}.", "title": f"A{k}"}
        for k in range(30)
        for q, p in ((0, 0), (1, 0), (2, 1))
    ]
    _jsonl(root / "retrieval" / "squad_v1.1_train" / "squad_v1.1_train.jsonl.gz", squad)
    medquad = [{"query": "What is flu?", "positive": "Flu is.", "focus": "Flu"}]
    medquad += [  # one disease spelt two ways by two sources
        {"query": f"What causes illness {k}?", "positive": f"Another source on illness {k}.", "focus": f"i{k}."}
        for k in range(50)
    ]
    medquad += [
        {"query": f"What causes illness {k}?", "positive": f"Germs cause illness {k}.", "focus": f"I{k}"}
        for k in range(50)
    ]
    _jsonl(root / "retrieval" / "medquad" / "medquad.jsonl.gz", medquad)
    pubmed = [{"query": "Does it help?", "positive": "An abstract.", "long_answer": "It helps."}]
    _jsonl(root / "retrieval" / "pubmedqa_pqal" / "pubmedqa_pqal_trainval.jsonl.gz", pubmed)
    _jsonl(root / "retrieval" / "scifact" / "corpus.jsonl.gz", [{"_id": "1", "title": "Wash hands.", "text": "Doc."}])
    _text(
        root / "retrieval" / "scifact" / "queries_train.jsonl", json.dumps({"_id": "q", "text": "What is flu?"}) + "\n"
    )
    _text(root / "retrieval" / "scifact" / "qrels_train.tsv", "query-id\tcorpus-id\tscore\nq\t1\t1\n")
    return root
