"""Training pairs the recipes read from ../shared/data: similarity pairs and triplets, question -> passage pairs.

Every reader returns columns (`{"anchor": [...], "positive": [...]}`, plus `"negative"` for triplets), ready
for `datasets.Dataset.from_dict`; `english_pairs` and `retrieval_pairs` build a recipe's named training sets.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Columns = dict[str, list[str]]


def read_jsonl_gz(path: Path) -> Iterator[dict]:
    """The records of a gzipped JSON-lines file (blank lines skipped), one at a time."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_lines_gz(path: Path) -> list[str]:
    """The lines of a gzipped text file, stripped."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.strip() for line in handle]


def read_sts_rows(path: Path) -> list[tuple[str, str, float]]:
    """An STS-B CSV file: (sentence 1, sentence 2, score of 0-5) per row."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [(s1, s2, float(score)) for s1, s2, score in csv.reader(handle)]


def detokenize(text: str) -> str:
    """Undo SNLI's tokenization (spaces before punctuation and clitics)."""
    text = re.sub(r" ([.,!?;:)'])", r"\1", text.strip())
    return re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", text).replace("( ", "(")


def caption_pairs(folder: Path, limit: int | None = None) -> Columns:
    """multi30k: captions k and k+1 of the same image are positive pairs."""
    captions = [read_lines_gz(folder / f"train.{k}.en.gz") for k in range(1, 6)]
    anchors, positives = [], []
    for k in range(4):
        for a, b in zip(captions[k], captions[k + 1], strict=True):
            if a and b:
                anchors.append(a)
                positives.append(b)
    return {"anchor": anchors[:limit], "positive": positives[:limit]}


def snli_triplets(folder: Path) -> Columns:
    """SNLI dev+test grouped by premise: (premise, an entailed hypothesis, a contradicted one)."""
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for split in ("dev", "test"):
        s1 = (folder / f"s1.{split}").read_text(encoding="utf-8").splitlines()
        s2 = (folder / f"s2.{split}").read_text(encoding="utf-8").splitlines()
        labels = (folder / f"labels.{split}").read_text(encoding="utf-8").splitlines()
        for premise, hypothesis, label in zip(s1, s2, labels, strict=True):
            groups[detokenize(premise)][label.strip()].append(detokenize(hypothesis))
    rows: Columns = {"anchor": [], "positive": [], "negative": []}
    for premise, by_label in groups.items():
        for entailed, contradicted in zip(by_label["entailment"], by_label["contradiction"], strict=False):
            rows["anchor"].append(premise)
            rows["positive"].append(entailed)
            rows["negative"].append(contradicted)
    return rows


def mrpc_pairs(path: Path, paraphrases_only: bool = True) -> Columns:
    """MRPC train: the sentence pairs marked as paraphrases (every pair without `paraphrases_only`)."""
    rows: Columns = {"anchor": [], "positive": []}
    with open(path, encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if record["Quality"] == "1" or not paraphrases_only:
                rows["anchor"].append(record["#1 String"])
                rows["positive"].append(record["#2 String"])
    return rows


def stsb_pairs(path: Path, min_score: float = 4.0) -> Columns:
    """STS-B train pairs scored at least `min_score` (of 5), as positives."""
    rows = [(s1, s2) for s1, s2, score in read_sts_rows(path) if score >= min_score]
    return {"anchor": [a for a, _ in rows], "positive": [p for _, p in rows]}


def title_abstract_pairs(folder: Path) -> Columns:
    """SciFact corpus documents as (title, abstract) pairs: unlabelled in-domain text, no queries or qrels."""
    rows: Columns = {"anchor": [], "positive": []}
    for record in read_jsonl_gz(folder / "corpus.jsonl.gz"):
        if record.get("title") and record.get("text"):
            rows["anchor"].append(record["title"])
            rows["positive"].append(record["text"])
    return rows


def squad_triplets(path: Path, seed: int = 0) -> Columns:
    """SQuAD question -> its paragraph, with another paragraph of the same article as the hard negative."""
    rng = random.Random(seed)
    records = list(read_jsonl_gz(path))
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record["positive"] not in paragraphs[record["title"]]:
            paragraphs[record["title"]].append(record["positive"])
    rows: Columns = {"anchor": [], "positive": [], "negative": []}
    for record in records:
        others = [p for p in paragraphs[record["title"]] if p != record["positive"]]
        if others:
            rows["anchor"].append(record["query"])
            rows["positive"].append(record["positive"])
            rows["negative"].append(rng.choice(others))
    return rows


def question_passage_pairs(path: Path) -> Columns:
    """A retrieval JSON-lines file's (query, positive passage) pairs."""
    rows: Columns = {"anchor": [], "positive": []}
    for record in read_jsonl_gz(path):
        if record.get("query") and record.get("positive"):
            rows["anchor"].append(record["query"])
            rows["positive"].append(record["positive"])
    return rows


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def ict_pairs(passages: list[str], seed: int = 0, keep_share: float = 0.1) -> Columns:
    """Inverse cloze task (Lee et al., 2019): a sentence of each passage of at least three sentences -> the passage
    without it (kept in it for `keep_share` of the rows, so the model also learns plain overlap). A sentence
    stating a passage's finding is what a claim or a question looks like, from unlabelled text."""
    rng = random.Random(seed)
    rows: Columns = {"anchor": [], "positive": []}
    for passage in passages:
        sentences = [s for s in _SENTENCE_END.split(passage.strip()) if s]
        candidates = [i for i, s in enumerate(sentences) if len(s.split()) >= 6]
        if len(sentences) < 3 or not candidates:
            continue
        chosen = rng.choice(candidates)
        rest = sentences if rng.random() < keep_share else sentences[:chosen] + sentences[chosen + 1 :]
        rows["anchor"].append(sentences[chosen])
        rows["positive"].append(" ".join(rest))
    return rows


def passages_and_conclusions(data: Path) -> tuple[list[str], Columns]:
    """The distinct passages of SQuAD, MedQuAD and PubMedQA (for `ict_pairs`), and PubMedQA's conclusion -> its
    abstract pairs."""
    folder = data / "retrieval"
    passages: dict[str, None] = {}
    conclusions: Columns = {"anchor": [], "positive": []}
    for path in ("squad_v1.1_train/squad_v1.1_train.jsonl.gz", "medquad/medquad.jsonl.gz"):
        passages.update((r["positive"], None) for r in read_jsonl_gz(folder / path) if r.get("positive"))
    for record in read_jsonl_gz(folder / "pubmedqa_pqal" / "pubmedqa_pqal_trainval.jsonl.gz"):
        passages.setdefault(record["positive"], None)
        if record.get("long_answer"):
            conclusions["anchor"].append(record["long_answer"])
            conclusions["positive"].append(record["positive"])
    return list(passages), conclusions


def english_pairs(data: Path, caption_limit: int | None = None, corpus_pairs: bool = False) -> dict[str, Any]:
    """The English similarity recipe's training sets by name, as Hugging Face `Dataset`s."""
    from datasets import Dataset

    extra = {"scifact-title-abstract": Dataset.from_dict(title_abstract_pairs(data / "retrieval" / "scifact"))}
    return {
        **(extra if corpus_pairs else {}),
        "multi30k-captions": Dataset.from_dict(caption_pairs(data / "pairs" / "multi30k-captions", caption_limit)),
        "snli-triplets": Dataset.from_dict(snli_triplets(data / "nli")),
        "mrpc": Dataset.from_dict(mrpc_pairs(data / "paraphrase" / "msr_paraphrase_train.txt")),
        "stsb-train-high": Dataset.from_dict(stsb_pairs(data / "sts" / "stsb-en-train.csv")),
    }


def drop_rows(columns: Columns, excludes: Callable[[str], bool]) -> Columns:
    """Training columns (anchor, positive[, negative]) without the rows that hold a text `excludes` names."""
    keep = [i for i, row in enumerate(zip(*columns.values(), strict=True)) if not any(map(excludes, row))]
    return {name: [values[i] for i in keep] for name, values in columns.items()}


def retrieval_pairs(data: Path, excludes: Callable[[str], bool] | None = None, ict: bool = False) -> dict[str, Any]:
    """The retrieval recipe's question -> passage sets by name, as Hugging Face `Dataset`s; with `excludes` (e.g. a
    `dev_suite.HeldApart`'s), without the rows that hold a text it names; with `ict`, also sentence ->
    rest-of-passage pairs of every passage (`ict_pairs`) and PubMedQA conclusion -> abstract pairs."""
    from datasets import Dataset

    folder = data / "retrieval"
    sets = {
        "squad-triplets": squad_triplets(folder / "squad_v1.1_train" / "squad_v1.1_train.jsonl.gz"),
        "medquad": question_passage_pairs(folder / "medquad" / "medquad.jsonl.gz"),
        "pubmedqa": question_passage_pairs(folder / "pubmedqa_pqal" / "pubmedqa_pqal_trainval.jsonl.gz"),
    }
    if ict:
        passages, conclusions = passages_and_conclusions(data)
        sets |= {"ict-passages": ict_pairs([p for p in passages if not (excludes and excludes(p))])}
        sets["pubmedqa-conclusions"] = conclusions
    return {name: Dataset.from_dict(drop_rows(c, excludes) if excludes else c) for name, c in sets.items()}
