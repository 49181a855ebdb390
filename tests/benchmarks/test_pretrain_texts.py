"""The pre-training corpus at scale (benchmarks.recipes.pretrain_texts) on a small data folder in the layout of
../shared/data: every source read, evaluation items dropped, each text once, a seeded order, the count command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.recipes import english, retrieval
from benchmarks.recipes.pretrain_texts import SOURCES, english_corpus, english_pretrain_texts, gather

REPO = Path(__file__).resolve().parents[2]


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


def test_the_recipes_pre_train_on_the_whole_pool_unless_told_a_size():
    """The default is the whole pool (None, `all`); `--pretrain-size N` takes N; a bad size fails."""
    assert english.options().parse_args([]).pretrain_size is None
    assert english.options().parse_args(["--pretrain-size", "12000"]).pretrain_size == 12_000
    assert retrieval.options().parse_args(["--pretrain-size", "all"]).pretrain_size is None
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
