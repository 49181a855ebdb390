"""The English dev suite: evaluation sets built from ../shared/data that no recipe trains or pre-trains on.

- STS-B dev (English): similarity, Spearman. Its train split is trained on by the similarity recipes, so it
  flatters them; the held-apart sets below do not.
- SciFact train queries over its 5,183 abstracts: scientific claim -> abstract, nDCG@10 (no SciFact text is
  trained or pre-trained on, unless the english recipe's `--corpus-pairs` is asked for).
- SQuAD held apart: the questions of `SQUAD_ARTICLES` whole Wikipedia articles, each ranked against every
  paragraph of those articles (same-topic distractors), nDCG@10. No question or paragraph of them is trained or
  pre-trained on.
- MedQuAD held apart: the questions about `MEDQUAD_SHARE` of the diseases (foci), ranked against all answers
  about those diseases, nDCG@10; held out of training and pre-training the same way.

`held_apart(data).excludes` names the texts every recipe drops from its training pairs and pre-training corpus.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmarks.recipes.data import read_jsonl_gz
from benchmarks.recipes.eval_texts import normalized

SQUAD_FILE = "retrieval/squad_v1.1_train/squad_v1.1_train.jsonl.gz"
MEDQUAD_FILE = "retrieval/medquad/medquad.jsonl.gz"
SQUAD_ARTICLES = 12
"""Whole SQuAD articles held apart (of 442: 3,115 questions, 686 paragraphs)."""
MEDQUAD_SHARE = 0.04
"""Share of MedQuAD's distinct diseases held apart (188: 602 questions, 652 answers)."""
SEED = 2026

SUITE = ("stsb-en-dev", "scifact-train", "squad-heldout", "medquad-heldout")
"""The suite's tasks, in the order tables show them."""


@dataclass(frozen=True)
class HeldApart:
    """The held-apart dev items: which SQuAD articles and MedQuAD foci, and their query and passage texts."""

    squad_titles: frozenset[str]
    medquad_foci: frozenset[str]
    """`focus_key`s of the held-apart diseases."""
    keys: frozenset[str]
    """Every held-apart question and passage, `normalized`."""

    def excludes(self, text: str) -> bool:
        """Whether `text` equals a held-apart question or passage (after `normalized`)."""
        return normalized(text) in self.keys


def _records(data: Path, path: str) -> list[dict[str, Any]]:
    return list(read_jsonl_gz(data / path))


def focus_key(focus: str) -> str:
    """A MedQuAD focus as diseases are compared: case, spacing and punctuation ignored (its sources spell the same
    disease "Gaucher disease" and "Gaucher Disease", "Alpha-1 antitrypsin deficiency" and "alpha-1 ...")."""
    return normalized(re.sub(r"[^\w\s]", " ", focus))


@lru_cache(maxsize=4)
def held_apart(data: Path) -> HeldApart:
    """The seeded choice of held-apart SQuAD articles and MedQuAD foci (the same on every machine); a focus is
    held apart in every spelling (`focus_key`)."""
    rng = random.Random(SEED)
    squad, medquad = _records(data, SQUAD_FILE), _records(data, MEDQUAD_FILE)
    titles = frozenset(rng.sample(sorted({r["title"] for r in squad}), SQUAD_ARTICLES))
    foci = sorted({focus_key(r["focus"]) for r in medquad})
    chosen_foci = frozenset(rng.sample(foci, max(1, round(len(foci) * MEDQUAD_SHARE))))
    held = [r for r in squad if r["title"] in titles] + [r for r in medquad if focus_key(r["focus"]) in chosen_foci]
    keys = frozenset(normalized(t) for r in held for t in (r["query"], r["positive"]))
    return HeldApart(titles, chosen_foci, keys)


def _retrieval(pairs: list[tuple[str, str]]) -> Any:
    """(question, passage) pairs as a RetrievalData: distinct passages as the corpus, each distinct question
    judged relevant to every passage it is paired with."""
    from static_edge.trainer.evaluate import RetrievalData

    doc_ids: dict[str, str] = {}
    query_ids: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for question, passage in pairs:
        doc = doc_ids.setdefault(passage, f"d{len(doc_ids)}")
        query = query_ids.setdefault(question, f"q{len(query_ids)}")
        qrels[query][doc] = 1
    return RetrievalData({q: t for t, q in query_ids.items()}, {d: t for t, d in doc_ids.items()}, dict(qrels))


def squad_heldout(data: Path) -> Any:
    """SQuAD held apart: each question of the held-apart articles against all their paragraphs."""
    titles = held_apart(data).squad_titles
    return _retrieval([(r["query"], r["positive"]) for r in _records(data, SQUAD_FILE) if r["title"] in titles])


def medquad_heldout(data: Path) -> Any:
    """MedQuAD held apart: each question about a held-apart disease against all answers about those diseases."""
    foci = held_apart(data).medquad_foci
    pairs = [(r["query"], r["positive"]) for r in _records(data, MEDQUAD_FILE) if focus_key(r["focus"]) in foci]
    return _retrieval(pairs)


def english_suite(data: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The suite as `evaluate` takes it: (STS sets, retrieval sets), named as in `SUITE`."""
    from static_edge.trainer.evaluate import read_beir, read_sts

    sts = {"stsb-en-dev": read_sts(data / "sts" / "stsb-en-dev.csv")}
    retrieval = {
        "scifact-train": read_beir(data / "retrieval" / "scifact", "train"),
        "squad-heldout": squad_heldout(data),
        "medquad-heldout": medquad_heldout(data),
    }
    return sts, retrieval
