"""Cross-lingual retrieval in `static-edge eval --parallel`: find each sentence's translation among all the others."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest

from static_edge.cli import main
from static_edge.runtimes.samples import sample_corpus
from static_edge.trainer.evaluate import read_parallel, translation_accuracy


def test_accuracy_is_top1_of_both_directions():
    """Accuracy is top1 of both directions."""
    vectors = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32)
    assert translation_accuracy(vectors, vectors) == 100.0
    assert translation_accuracy(vectors, np.roll(vectors, 1, axis=0)) == 0.0
    swapped = vectors.copy()
    swapped[[0, 1]] = vectors[[1, 0]]  # two translations trade places: 48 of 50 right, each way
    assert translation_accuracy(vectors, swapped) == pytest.approx(96.0)


def _near_copy(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    words.pop(rng.randrange(len(words)))
    return " ".join(words)


@pytest.fixture(scope="module")
def parallel_file(tmp_path_factory):
    """Two "languages": xx holds near-copies (findable), yy holds unrelated sentences (not findable)."""
    rng = random.Random(0)
    corpus = [s for s in sample_corpus() if len(s.split()) > 4][:120]
    path = tmp_path_factory.mktemp("parallel") / "pairs.jsonl.gz"
    shuffled = corpus[60:] + corpus[:60]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for sentence in corpus:
            handle.write(json.dumps({"lang": "xx", "en": sentence, "other": _near_copy(sentence, rng)}) + "\n")
        for sentence, unrelated in zip(corpus, shuffled, strict=True):
            handle.write(json.dumps({"lang": "yy", "en": sentence, "other": unrelated}) + "\n")
    return path, len(corpus)


def test_read_parallel_groups_by_language_and_skips_repeats(parallel_file, tmp_path):
    """Read parallel groups by language and skips repeats."""
    path, count = parallel_file
    data = read_parallel(path)
    assert sorted(data) == ["xx", "yy"] and len(data["xx"].sources) == count == len(data["yy"].targets)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("a cat\tune chatte\na dog\tun chien\na cat\tun chat\n")  # the repeated source is dropped
    assert read_parallel(tsv)["pairs"].targets == ["une chatte", "un chien"]


def test_cli_eval_parallel_scores_each_language_and_the_mean(st_bundle, parallel_file, tmp_path):
    """CLI eval parallel scores each language and the mean."""
    path, _ = parallel_file
    out = tmp_path / "scores.json"
    assert main(["eval", str(st_bundle), "--parallel", str(path), "--dims", "32,128", "-o", str(out)]) == 0
    scores = json.loads(out.read_text())["scores"]
    assert set(scores) == {"parallel:pairs/xx", "parallel:pairs/yy", "parallel:mean"}
    assert scores["parallel:pairs/xx"]["128"] >= 90 and scores["parallel:pairs/yy"]["128"] <= 20
    mean = (scores["parallel:pairs/xx"]["32"] + scores["parallel:pairs/yy"]["32"]) / 2
    assert scores["parallel:mean"]["32"] == pytest.approx(mean)
    assert out.with_suffix(".png").is_file()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"lang": "xx", "en": "a cat", "text": "un chat"}], "row 1 needs string fields 'en' and 'other'"),
        ([{"lang": "xx", "en": "a cat", "other": "un chat"}], "at least 2 aligned pairs per language (['xx'])"),
    ],
)
def test_cli_eval_parallel_refuses_bad_files_in_one_line(st_bundle, tmp_path, capsys, rows, message):
    """CLI eval parallel refuses bad files in one line."""
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", str(st_bundle), "--parallel", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
