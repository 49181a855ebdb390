"""Training inputs shared by the trainer's tests: pair data, an STS file and a tokenizer, all built here."""

from __future__ import annotations

import json
import random

import pytest
from model_builders import augment as _augment

from static_edge.runtimes.samples import sample_corpus


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    """A few hundred (anchor, positive) pairs as jsonl, and an STS file built from the same sentences."""
    rng = random.Random(0)
    corpus = sample_corpus()
    folder = tmp_path_factory.mktemp("train-data")
    pairs = folder / "pairs.jsonl"
    with open(pairs, "w") as handle:
        for _ in range(2):
            for sentence in corpus:
                handle.write(json.dumps({"anchor": sentence, "positive": _augment(sentence, rng)}) + "\n")
    sts = folder / "sts.csv"
    with open(sts, "w") as handle:  # graded: paraphrase 5, same topic (corpus lines come in tens) 2.5, other 0
        for i, sentence in enumerate(corpus[:120]):
            same_topic = corpus[i // 10 * 10 + (i + 1) % 10]
            other = corpus[(i + 37) % len(corpus)]
            handle.write(f'"{sentence}","{_augment(sentence, rng)}",5.0\n"{sentence}","{same_topic}",2.5\n')
            handle.write(f'"{sentence}","{other}",0.0\n')
    return pairs, sts


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    """A small WordPiece tokenizer.json."""
    from model_builders import wordpiece_tokenizer

    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    wordpiece_tokenizer().save(str(path))
    return path
