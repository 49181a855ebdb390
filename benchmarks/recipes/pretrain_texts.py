"""Pre-training corpora for the recipes (`trainer.pretrain`): plain texts drawn from ../shared/data, never shipped.

- English similarity: Brown sentences (edited prose of 15 genres, news included), multi30k captions, MRPC and
  STS-B train sentences (short news, forum and gloss-like text: what STS 2012 tests), SQuAD questions and
  sentences of SQuAD paragraphs. Short texts only: the all-mpnet-base-v2 teacher embeds about 100 short
  sentences/s on 2 CPU cores but 3 paragraphs/s.
- Retrieval: the same English mix plus SQuAD paragraphs, MedQuAD and PubMedQA questions and passages, for the
  all-MiniLM-L6-v2 teacher (about 35 paragraphs/s here).

No STS-B dev, SciFact or STS 2012-2016 test text is drawn. Each source is sampled with a fixed seed.
"""

from __future__ import annotations

import random
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.recipes.data import detokenize, mrpc_pairs, read_jsonl_gz, read_lines_gz, stsb_pairs

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


def english_corpus(data: Path, size: int = 60_000, seed: int = 0) -> list[str]:
    """Short English texts for the mpnet teacher: Brown, news/STS-B train, captions, SQuAD questions and
    sentences of SQuAD paragraphs, in proportions 35/25/15/10/15 of `size`."""
    rng = random.Random(seed)
    news, captions = short_news_and_captions(data)
    questions, paragraphs = squad_texts(data)
    squad_sentences = [s for p in paragraphs for s in _SENTENCE_END.split(p) if 4 <= len(s.split()) <= 60]
    shares = [(brown_sentences(data), 0.35), (news, 0.25), (captions, 0.15), (questions, 0.10), (squad_sentences, 0.15)]
    return _mix(shares, size, rng)


def retrieval_corpus(data: Path, size: int = 60_000, seed: int = 0) -> list[str]:
    """Questions and passages for the MiniLM teacher: SQuAD paragraphs and questions, MedQuAD and PubMedQA
    questions and passages, and the English mix, in proportions 25/15/15/15/30 of `size`."""
    rng = random.Random(seed)
    questions, paragraphs = squad_texts(data)
    medical_questions, medical_passages = medical_texts(data)
    shares = [(paragraphs, 0.25), (questions, 0.15), (medical_passages, 0.15), (medical_questions, 0.15)]
    return _mix(shares, size, rng, tail=english_corpus(data, int(size * 0.30), seed))
