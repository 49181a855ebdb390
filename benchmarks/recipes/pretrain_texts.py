"""Pre-training corpora for the recipes (`trainer.pretrain`): plain texts drawn from ../shared/data, never shipped.

- The pool (`english_pretrain_texts`): every distinct English text of the train-side sources in `SOURCES` (about
  470,000), none equal to an evaluation item (`eval_texts`), in a seeded order. The recipes pre-train on it
  (benchmarks.recipes.teacher_pool: one cached teacher pass, the held-apart dev items of
  benchmarks.recipes.dev_suite left out, the first N with `--pretrain-size N`).
  `python -m benchmarks.recipes.pretrain_texts --count` writes its texts per source, exclusions and lengths to
  benchmarks/results/pretrain_corpus.md/.json/.png.
- Two small mixes of the earlier rounds, kept for the teacher-pass benchmark (benchmarks.measure.teacher_pass):
  short English texts (`english_corpus`: Brown, MRPC and STS-B train sentences, captions, SQuAD questions and
  sentences of SQuAD paragraphs) and questions with passages (`retrieval_corpus`: that mix plus SQuAD paragraphs,
  MedQuAD and PubMedQA questions and passages).

No STS-B dev, SciFact or STS 2012-2016 test text is drawn. Each source is sampled with a fixed seed.
"""

from __future__ import annotations

import random
import re
import statistics
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.recipes.data import Columns, detokenize, mrpc_pairs, read_jsonl_gz, read_lines_gz, stsb_pairs
from benchmarks.recipes.eval_texts import eval_texts, normalized

MODULE = "benchmarks.recipes.pretrain_texts"
SQUAD = "retrieval/squad_v1.1_train/squad_v1.1_train.jsonl.gz"
MEDQUAD = "retrieval/medquad/medquad.jsonl.gz"
PUBMEDQA = "retrieval/pubmedqa_pqal/pubmedqa_pqal_trainval.jsonl.gz"
PARALLEL = [
    "parallel/ntrex128/ntrex128.jsonl.gz",
    "parallel/wmt_newstest/wmt_newstest_2008_2022.jsonl.gz",
    "parallel/tico19_test/tico19_test.jsonl.gz",
]

_BROWN_TOKEN = re.compile(r"(\S+)/\S+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def brown_sentences(data: Path) -> list[str]:
    """The Brown corpus' 57,340 sentences, tags stripped and quotes and punctuation re-attached."""
    sentences = []
    with zipfile.ZipFile(data / "corpus" / "brown.zip") as archive:
        for name in sorted(archive.namelist()):
            if not re.fullmatch(r"brown/c[a-r]\d\d", name):
                continue
            for line in archive.read(name).decode("utf-8").splitlines():
                words = _BROWN_TOKEN.findall(line.strip())
                if len(words) >= 3:
                    text = detokenize(" ".join(words)).replace("`` ", '"').replace(" ''", '"')
                    sentences.append(text.replace("``", '"').replace("''", '"'))
    return sentences


def squad_texts(data: Path) -> tuple[list[str], list[str]]:
    """SQuAD train questions and distinct paragraphs."""
    questions, paragraphs = [], {}
    for record in read_jsonl_gz(data / "retrieval" / "squad_v1.1_train" / "squad_v1.1_train.jsonl.gz"):
        questions.append(record["query"])
        paragraphs.setdefault(record["positive"], None)
    return questions, list(paragraphs)


def medical_texts(data: Path) -> tuple[list[str], list[str]]:
    """MedQuAD and PubMedQA questions and distinct passages."""
    questions, passages = [], {}
    for path in ("medquad/medquad.jsonl.gz", "pubmedqa_pqal/pubmedqa_pqal_trainval.jsonl.gz"):
        for record in read_jsonl_gz(data / "retrieval" / path):
            questions.append(record["query"])
            passages.setdefault(record["positive"], None)
    return questions, list(passages)


def short_news_and_captions(data: Path) -> tuple[list[str], list[str]]:
    """MRPC train and STS-B train sentences; multi30k captions (first file)."""
    mrpc = mrpc_pairs(data / "paraphrase" / "msr_paraphrase_train.txt", paraphrases_only=False)
    stsb = stsb_pairs(data / "sts" / "stsb-en-train.csv", min_score=0.0)
    news = [text for pairs in (mrpc, stsb) for pair in zip(*pairs.values(), strict=True) for text in pair]
    return news, read_lines_gz(data / "pairs" / "multi30k-captions" / "train.1.en.gz")


def _sample(texts: list[str], count: int, rng: random.Random) -> list[str]:
    distinct = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    return distinct if count >= len(distinct) else rng.sample(distinct, count)


def _mix(shares: list[tuple[list[str], float]], size: int, rng: random.Random, tail: Sequence[str] = ()) -> list[str]:
    """A seeded sample of `share x size` texts from each source, then `tail`, de-duplicated and shuffled."""
    parts = [_sample(texts, int(size * share), rng) for texts, share in shares] + [list(tail)]
    texts = list(dict.fromkeys(t for part in parts for t in part))
    rng.shuffle(texts)
    return texts


def english_corpus(data: Path, size: int | None = 60_000, seed: int = 0) -> list[str]:
    """Short English texts for the mpnet teacher: Brown, news/STS-B train, captions, SQuAD questions and
    sentences of SQuAD paragraphs, in proportions 35/25/15/10/15 of `size` (None: `english_pretrain_texts`)."""
    if size is None:
        return english_pretrain_texts(data, seed=seed)
    rng = random.Random(seed)
    news, captions = short_news_and_captions(data)
    questions, paragraphs = squad_texts(data)
    squad_sentences = [s for p in paragraphs for s in _SENTENCE_END.split(p) if 4 <= len(s.split()) <= 60]
    shares = [(brown_sentences(data), 0.35), (news, 0.25), (captions, 0.15), (questions, 0.10), (squad_sentences, 0.15)]
    return _mix(shares, size, rng)


def retrieval_corpus(data: Path, size: int | None = 60_000, seed: int = 0) -> list[str]:
    """Questions and passages for the MiniLM teacher: SQuAD paragraphs and questions, MedQuAD and PubMedQA
    questions and passages, and the English mix, in proportions 25/15/15/15/30 of `size` (None: every text,
    `english_pretrain_texts`)."""
    if size is None:
        return english_pretrain_texts(data, seed=seed)
    rng = random.Random(seed)
    questions, paragraphs = squad_texts(data)
    medical_questions, medical_passages = medical_texts(data)
    shares = [(paragraphs, 0.25), (questions, 0.15), (medical_passages, 0.15), (medical_questions, 0.15)]
    return _mix(shares, size, rng, tail=english_corpus(data, int(size * 0.30), seed))


def _records(*paths: str, fields: tuple[str, ...]) -> Callable[[Path], list[str]]:
    """A source: the non-empty `fields` of every record of the JSON-lines files at `data / path`."""

    def read(data: Path) -> list[str]:
        return [r[f] for path in paths for r in read_jsonl_gz(data / path) for f in fields if r.get(f)]

    return read


def _both(pairs: Columns) -> list[str]:
    return [text for column in pairs.values() for text in column]


def multi30k_captions(data: Path) -> list[str]:
    """The five English captions of every multi30k train image."""
    folder = data / "pairs" / "multi30k-captions"
    return [text for k in range(1, 6) for text in read_lines_gz(folder / f"train.{k}.en.gz")]


def snli_sentences(data: Path) -> list[str]:
    """SNLI premises and hypotheses of the dev and test files (the English recipe trains on them), detokenized."""
    files = (data / "nli" / f"{side}.{split}" for split in ("dev", "test") for side in ("s1", "s2"))
    return [detokenize(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]


SOURCES: dict[str, Callable[[Path], list[str]]] = {
    "Brown": brown_sentences,
    "STS-B train (en)": lambda data: _both(stsb_pairs(data / "sts" / "stsb-en-train.csv", min_score=0.0)),
    "MRPC train": lambda data: _both(mrpc_pairs(data / "paraphrase" / "msr_paraphrase_train.txt", False)),
    "multi30k captions (train, 5 per image)": multi30k_captions,
    "multi30k translations (train, en side)": lambda data: read_lines_gz(data / "parallel/multi30k/train.en.gz"),
    "SNLI (dev and test files)": snli_sentences,
    "NTREX-128, WMT newstest, TICO-19 (en side)": _records(*PARALLEL, fields=("en",)),
    "SQuAD v1.1 train questions": _records(SQUAD, fields=("query",)),
    "SQuAD v1.1 train paragraphs": _records(SQUAD, fields=("positive",)),
    "MedQuAD questions": _records(MEDQUAD, fields=("query",)),
    "MedQuAD answers": _records(MEDQUAD, fields=("positive",)),
    "PubMedQA PQA-L questions": _records(PUBMEDQA, fields=("query",)),
    "PubMedQA PQA-L contexts and long answers": _records(PUBMEDQA, fields=("positive", "long_answer")),
}
"""The train-side English sources of the pre-training corpus at scale, in the order texts are attributed: a text
counts for the first source holding it. FLORES-101 dev (a dev set), SciFact (evaluated on), the STS-B dev files and
multi30k's val files are left out."""


@dataclass
class Corpus:
    """Every distinct English train-side text by source, and what was left out."""

    texts: dict[str, list[str]] = field(default_factory=dict)
    """source -> its texts not in an earlier source and equal to no evaluation item, in reading order"""
    read: dict[str, int] = field(default_factory=dict)
    """source -> non-empty texts read"""
    distinct: dict[str, int] = field(default_factory=dict)
    """source -> distinct texts (`normalized`) read"""
    excluded: dict[str, int] = field(default_factory=dict)
    """source -> its distinct texts equal to an evaluation item"""
    eval_sets: dict[str, int] = field(default_factory=dict)
    """evaluation set -> its distinct texts"""
    excluded_total: int = 0
    """distinct texts of all sources equal to an evaluation item"""


def gather(data: Path) -> Corpus:
    """Read every source of `SOURCES`; keep each distinct text once, none equal to an evaluation item."""
    held_out = eval_texts(data)
    unwanted = set().union(*held_out.values())
    corpus = Corpus(eval_sets={name: len(texts) for name, texts in held_out.items()})
    seen: set[str] = set()
    dropped: set[str] = set()
    for name, read in SOURCES.items():
        texts = [t.strip() for t in read(data) if t.strip()]
        keys = [normalized(t) for t in texts]
        hits = set(keys) & unwanted
        kept = []
        for text, key in zip(texts, keys, strict=True):
            if key not in seen and key not in hits:
                seen.add(key)
                kept.append(text)
        corpus.texts[name], corpus.read[name], corpus.distinct[name] = kept, len(texts), len(set(keys))
        corpus.excluded[name] = len(hits)
        dropped |= hits
    corpus.excluded_total = len(dropped)
    return corpus


def english_pretrain_texts(data: Path, size: int | None = None, seed: int = 0) -> list[str]:
    """Every distinct English train-side text of ../shared/data (`gather`) in a seeded random order; the first
    `size` of them with `size` (a uniform sample, so each source keeps its share)."""
    texts = list(_shuffled_pool(data, seed))
    return texts if size is None else texts[:size]


@lru_cache(maxsize=2)
def _shuffled_pool(data: Path, seed: int) -> tuple[str, ...]:
    """`english_pretrain_texts`, read once per process: a recipe asks for the pool at several steps (its
    selection, the teacher pass, mining), and `gather` reads every source file."""
    texts = [text for kept in gather(data).texts.values() for text in kept]
    random.Random(seed).shuffle(texts)
    return tuple(texts)


def _lengths(texts: Sequence[str]) -> dict[str, int | None]:
    """Character-length percentiles of `texts` (None for fewer than two texts)."""
    if len(texts) < 2:
        return dict.fromkeys(("chars p10", "chars p50", "chars p90", "chars p99"))
    cuts = statistics.quantiles([len(t) for t in texts], n=100, method="inclusive")
    return {f"chars p{p}": round(cuts[p - 1]) for p in (10, 50, 90, 99)}


def count_rows(corpus: Corpus) -> list[dict[str, Any]]:
    """One row per source and a total row: texts read, distinct, equal to an eval item, kept; lengths kept."""
    rows = [
        {
            "source": name,
            "texts read": corpus.read[name],
            "distinct": corpus.distinct[name],
            "equal to an eval item": corpus.excluded[name],
            "kept (new to the corpus)": len(kept),
            **_lengths(kept),
        }
        for name, kept in corpus.texts.items()
    ]
    everything = [text for kept in corpus.texts.values() for text in kept]
    total = {
        "source": "all sources",
        "texts read": sum(corpus.read.values()),
        "distinct": len(everything) + corpus.excluded_total,  # kept or dropped as an eval item, each once
        "equal to an eval item": corpus.excluded_total,
        "kept (new to the corpus)": len(everything),
    }
    return [*rows, total | _lengths(everything)]


def plot_counts(rows: list[dict[str, Any]], path: Path) -> None:
    """Texts kept per source (log scale), each bar labelled with its count and eval exclusions."""
    fig, ax = common.figure(size=(9, 5.5))
    rows = rows[::-1]
    kept = [row["kept (new to the corpus)"] for row in rows]
    colours = ["tab:gray" if row["source"] == "all sources" else "tab:blue" for row in rows]
    bars = ax.barh([row["source"] for row in rows], kept, color=colours)
    for bar, row in zip(bars, rows, strict=True):
        dropped = row["equal to an eval item"]
        count = f"{bar.get_width():,}" if bar.get_width() else "none new: all in an earlier source"
        note = f" {count}" + (f" ({dropped:,} eval)" if dropped else "")
        ax.annotate(note, (max(bar.get_width(), 100), bar.get_y() + bar.get_height() / 2), va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(100, max(kept) * 30)
    ax.set_xlabel("distinct texts kept (log scale)")
    ax.set_title("Pre-training corpus at scale: English texts per source")
    common.save(fig, path)


def main() -> None:
    """`--count`: write pretrain_corpus.md/.json/.png (texts per source, exclusions, lengths) to --out."""
    parser = common.parser(__doc__)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--count", action="store_true", help="count the corpus at scale and publish the table")
    args = parser.parse_args()
    if not args.count:
        parser.error("nothing to do: pass --count")
    if not (args.data / "README.md").is_file():
        parser.error(f"no data folder at {args.data} (pass --data ../shared/data)")
    corpus = gather(args.data)
    rows = count_rows(corpus)
    common.publish(
        args.out,
        "pretrain_corpus",
        MODULE,
        title="Pre-training corpus at scale: every distinct English train-side text of ../shared/data",
        rows=rows,
        plot=lambda path: plot_counts(rows, path),
        notes=count_notes(corpus),
        data={"eval sets": corpus.eval_sets, "excluded as eval, distinct": corpus.excluded_total},
    )


def count_notes(corpus: Corpus) -> list[str]:
    """The paragraphs under the count table."""
    eval_sets = ", ".join(f"{name} {count:,}" for name, count in corpus.eval_sets.items())
    return [
        "Texts are compared after whitespace is collapsed and case folded; a text counts for the first source "
        "(table order) holding it. `english_pretrain_texts(data)` returns the kept texts in a seeded order "
        "(`--pretrain-size all` in the english and retrieval recipes).",
        f"Evaluation sets checked (distinct texts): {eval_sets}; a source text equal to one of them is dropped. "
        "FLORES-101 dev, SciFact, STS-B dev and multi30k val are not read as sources. The STS 2012-2016, "
        "STS-B test and SICK test sets are not in ../shared/data, so they are not checked here (its README: "
        "parallel rows matching them were removed).",
        "SNLI's dev and test files are a source: the English recipe trains on them and no recipe evaluates on them.",
        "Lengths are in characters, of the kept texts.",
    ]


if __name__ == "__main__":
    main()
