"""The pre-training corpus at scale (benchmarks.recipes.pretrain_texts) on a small data folder in the layout of
../shared/data: every source read, evaluation items dropped, each text once, a seeded order, the count command."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from benchmarks.recipes import english, retrieval
from benchmarks.recipes.parallel import STS_LANGS
from benchmarks.recipes.pretrain_texts import SOURCES, english_corpus, english_pretrain_texts, gather

REPO = Path(__file__).resolve().parents[2]


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
    squad = [{"query": f"Question {i}?", "positive": "A paragraph.", "title": "T", "answer": "a"} for i in range(2)]
    _jsonl(root / "retrieval" / "squad_v1.1_train" / "squad_v1.1_train.jsonl.gz", squad)
    _jsonl(root / "retrieval" / "medquad" / "medquad.jsonl.gz", [{"query": "What is flu?", "positive": "Flu is."}])
    pubmed = [{"query": "Does it help?", "positive": "An abstract.", "long_answer": "It helps."}]
    _jsonl(root / "retrieval" / "pubmedqa_pqal" / "pubmedqa_pqal_trainval.jsonl.gz", pubmed)
    _jsonl(root / "retrieval" / "scifact" / "corpus.jsonl.gz", [{"_id": "1", "title": "Wash hands.", "text": "Doc."}])
    _text(
        root / "retrieval" / "scifact" / "queries_train.jsonl", json.dumps({"_id": "q", "text": "What is flu?"}) + "\n"
    )
    return root


def test_every_source_is_read_and_evaluation_items_are_dropped(data):
    """An STS-B dev sentence (other case and spacing), a SciFact title and query and a FLORES dev sentence found
    in the sources are dropped; every other text is kept once, for the first source holding it."""
    corpus = gather(data)
    assert list(corpus.texts) == list(SOURCES)
    kept = [text for texts in corpus.texts.values() for text in texts]
    assert len(kept) == len(set(kept))
    for unwanted in ("A MAN  is playing a guitar.", "A FLORES sentence.", "Wash hands.", "What is flu?"):
        assert unwanted not in kept
    assert corpus.excluded["STS-B train (en)"] == corpus.excluded["MedQuAD questions"] == 1
    assert corpus.excluded_total == 4
    assert corpus.texts["Brown"] == ["The jury said it.", "A dog barked loudly."]
    assert corpus.texts["SNLI (dev and test files)"] == ["Nobody is here."]  # "A dog runs." is a caption first
    assert corpus.texts["multi30k translations (train, en side)"] == ["A fresh translation."]
    assert corpus.texts["NTREX-128, WMT newstest, TICO-19 (en side)"] == ["News of the day."]
    assert corpus.texts["PubMedQA PQA-L contexts and long answers"] == ["An abstract.", "It helps."]


def test_the_corpus_comes_in_a_seeded_order_and_size_takes_its_start(data):
    """The same seed gives the same order; `size` is its first texts; size None in the recipes' corpora is it."""
    everything = english_pretrain_texts(data)
    assert sorted(everything) == sorted(t for texts in gather(data).texts.values() for t in texts)
    assert english_pretrain_texts(data) == everything != english_pretrain_texts(data, seed=1)
    assert english_pretrain_texts(data, size=5) == everything[:5]
    assert english_corpus(data, None) == everything


def test_the_recipes_take_pretrain_size_all_and_keep_their_defaults():
    """`--pretrain-size all` means every text (None); the defaults stay 12,000 and 60,000; a bad size fails."""
    assert english.options().parse_args(["--pretrain-size", "all"]).pretrain_size is None
    assert english.options().parse_args([]).pretrain_size == 12_000
    assert retrieval.options().parse_args([]).pretrain_size == 60_000
    with pytest.raises(SystemExit):
        retrieval.options().parse_args(["--pretrain-size", "0"])


def test_the_count_command_publishes_texts_per_source(data, tmp_path):
    """`--count` writes the table (a row per source and a total), its JSON and the plot; no --count is an error."""
    command = [sys.executable, "-m", "benchmarks.recipes.pretrain_texts", "--data", str(data), "--out", str(tmp_path)]
    done = subprocess.run([*command, "--count"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "pretrain_corpus.json").read_text())["rows"]
    assert [row["source"] for row in rows] == [*SOURCES, "all sources"]
    assert rows[-1]["kept (new to the corpus)"] == len(english_pretrain_texts(data))
    assert rows[-1]["equal to an eval item"] == 4
    assert (tmp_path / "pretrain_corpus.png").stat().st_size > 0
    assert "| all sources |" in (tmp_path / "pretrain_corpus.md").read_text()
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "pass --count" in refused.stderr and "Traceback" not in refused.stderr
