"""Evaluate a static model folder or an exported bundle: STS Spearman, retrieval nDCG@10 and cross-lingual
retrieval (top-1 accuracy of finding a sentence's translation), per dimension.

Scores are computed here from the embeddings (one code path for a model folder, a bundle variant
and every Matryoshka slice), rather than through Sentence Transformers' evaluators, which need a
SentenceTransformer object and cannot score an ONNX file. Spearman comes from scipy; nDCG@10
follows BEIR's definition (graded gains, log2 discount, ideal ranking from the judgements).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from static_edge.runtimes.embedder import l2_normalize, rowwise_cosine

Encoder = Callable[[list[str]], np.ndarray]


@dataclass
class StsData:
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray


@dataclass
class RetrievalData:
    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass
class ParallelData:
    """Aligned sentences: `sources[i]` translates to `targets[i]` (each side distinct)."""

    sources: list[str]
    targets: list[str]


def read_parallel(path: str | os.PathLike[str]) -> dict[str, ParallelData]:
    """Aligned sentence pairs per language from JSONL(.gz) rows `{"lang", "en", "other"}` (the shared
    data's layout; `lang` optional) or a TSV file of two columns (source, target; language "pairs").

    Rows whose source or target repeats an earlier one are skipped: each sentence must have exactly one
    right answer among the candidates.

    :raises FileNotFoundError: for a missing file.
    :raises ValueError: when a language has fewer than 2 usable pairs, or a JSONL row lacks "en"/"other".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parallel sentences file not found: {path}")
    rows: list[tuple[str, str, str]] = []
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        for number, record in enumerate(_read_jsonl(path), start=1):
            if not isinstance(record.get("en"), str) or not isinstance(record.get("other"), str):
                raise ValueError(f"{path}: row {number} needs string fields 'en' and 'other'")
            rows.append((str(record.get("lang", "pairs")), record["en"], record["other"]))
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 2:
                    rows.append(("pairs", row[0], row[1]))
    by_lang: dict[str, ParallelData] = {}
    seen: dict[str, tuple[set[str], set[str]]] = {}
    for lang, source, target in rows:
        if not source.strip() or not target.strip():
            continue
        sources_seen, targets_seen = seen.setdefault(lang, (set(), set()))
        if source in sources_seen or target in targets_seen:
            continue
        sources_seen.add(source)
        targets_seen.add(target)
        data = by_lang.setdefault(lang, ParallelData([], []))
        data.sources.append(source)
        data.targets.append(target)
    small = sorted(lang for lang, data in by_lang.items() if len(data.sources) < 2)
    if not by_lang or small:
        raise ValueError(
            f"{path}: cross-lingual retrieval needs at least 2 aligned pairs per language ({small or 'none'})"
        )
    return by_lang


def translation_accuracy(sources: np.ndarray, targets: np.ndarray) -> float:
    """Top-1 accuracy x 100 of finding each sentence's translation among all the others, mean of both directions."""
    similarity = l2_normalize(sources) @ l2_normalize(targets).T
    truth = np.arange(len(similarity))
    forward = float((similarity.argmax(axis=1) == truth).mean())
    backward = float((similarity.argmax(axis=0) == truth).mean())
    return 100 * (forward + backward) / 2


def read_sts(path: str | os.PathLike[str]) -> StsData:
    """STS pairs from a CSV/TSV file: sentence1, sentence2, score (header optional).

    :raises FileNotFoundError: for a missing file.
    :raises ValueError: when no row has two texts and a numeric score.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"STS file not found: {path}")
    delimiter = "\t" if path.suffix in (".tsv", ".tab") else ","
    s1, s2, scores = [], [], []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.reader(handle, delimiter=delimiter):
            if len(row) < 3:
                continue
            try:
                score = float(row[2])
            except ValueError:
                continue  # a header line
            s1.append(row[0])
            s2.append(row[1])
            scores.append(score)
    if not scores:
        raise ValueError(f"{path} has no rows of the form sentence1, sentence2, score")
    return StsData(s1, s2, np.array(scores))


def read_beir(folder: str | os.PathLike[str], split: str = "train") -> RetrievalData:
    """A BEIR folder: corpus.jsonl(.gz), queries(_split).jsonl, qrels(_split).tsv or qrels/split.tsv.

    Only queries with judgements are kept.

    :raises FileNotFoundError: naming the file that is missing.
    """
    folder = Path(folder)
    corpus_file = _first_existing(folder, ["corpus.jsonl.gz", "corpus.jsonl"])
    queries_file = _first_existing(folder, [f"queries_{split}.jsonl", "queries.jsonl"])
    qrels_file = _first_existing(folder, [f"qrels_{split}.tsv", f"qrels/{split}.tsv"])
    corpus = {}
    for record in _read_jsonl(corpus_file):
        corpus[str(record["_id"])] = f"{record.get('title', '')} {record.get('text', '')}".strip()
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_file, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
                continue  # header
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {str(r["_id"]): r["text"] for r in _read_jsonl(queries_file) if str(r["_id"]) in qrels}
    return RetrievalData(queries, corpus, {q: qrels[q] for q in queries})


def _first_existing(folder: Path, names: list[str]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has none of {names} (expected the BEIR layout)")


def _read_jsonl(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def sts_spearman(e1: np.ndarray, e2: np.ndarray, gold: np.ndarray) -> float:
    """Spearman x 100 of the cosine of each pair against the gold scores."""
    from scipy.stats import spearmanr

    return float(spearmanr(rowwise_cosine(e1, e2), gold).statistic * 100)


def ndcg_at_k(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    doc_ids: list[str],
    query_ids: list[str],
    qrels: dict[str, dict[str, int]],
    k: int = 10,
) -> float:
    """Mean nDCG@k x 100 over the queries, ranking every document by cosine."""
    q, d = l2_normalize(query_vectors), l2_normalize(doc_vectors)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for start in range(0, len(q), 256):
        scores = q[start : start + 256] @ d.T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        for row, query_id in enumerate(query_ids[start : start + 256]):
            ranked = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
            judged = qrels[query_id]
            gains = np.array([judged.get(doc_ids[i], 0) for i in ranked], dtype=np.float64)
            ideal = np.sort(np.array(list(judged.values()), dtype=np.float64))[::-1][:k]
            dcg = float((gains * discounts[: len(gains)]).sum())
            idcg = float((ideal * discounts[: len(ideal)]).sum())
            total += dcg / idcg if idcg > 0 else 0.0
    return 100 * total / len(query_ids)


def evaluate(
    encode: Encoder,
    dims: Sequence[int],
    sts: dict[str, StsData] | None = None,
    retrieval: dict[str, RetrievalData] | None = None,
    parallel: dict[str, ParallelData] | None = None,
) -> dict[str, dict[int, float]]:
    """Scores per task and dimension: {"sts:<name>": {dim: spearman}, "retrieval:<name>": {dim: ndcg@10},
    "parallel:<name>": {dim: top-1 accuracy of translation retrieval, both directions}}.

    Each text set is encoded once at full size; smaller dimensions are slices of those vectors.
    """
    results: dict[str, dict[int, float]] = {}
    for name, data in (sts or {}).items():
        e1, e2 = encode(data.sentences1), encode(data.sentences2)
        results[f"sts:{name}"] = {d: sts_spearman(e1[:, :d], e2[:, :d], data.scores) for d in dims}
    for name, data in (retrieval or {}).items():
        query_ids, doc_ids = list(data.queries), list(data.corpus)
        qv = encode([data.queries[q] for q in query_ids])
        dv = encode([data.corpus[d] for d in doc_ids])
        results[f"retrieval:{name}"] = {
            d: ndcg_at_k(qv[:, :d], dv[:, :d], doc_ids, query_ids, data.qrels) for d in dims
        }
    for name, data in (parallel or {}).items():
        sv, tv = encode(data.sources), encode(data.targets)
        results[f"parallel:{name}"] = {d: translation_accuracy(sv[:, :d], tv[:, :d]) for d in dims}
    return results


def model_encoder(path: str | os.PathLike[str], variant: str | None = None, batch_size: int = 1024):
    """(encode, full dims, description) for a bundle folder or a static model folder.

    A bundle is read with `runtimes` (so the int8 file's score is measured, not assumed); a model
    folder with Sentence Transformers, or model2vec for a model2vec folder.
    """
    path = Path(path)
    if (path / "static_edge.json").is_file():
        from static_edge.runtimes import load

        model = load(path, variant=variant)
        return (lambda texts: model.encode(texts, batch_size=batch_size)), model.dims, f"bundle {model.variant}"
    if (path / "modules.json").is_file():
        from sentence_transformers import SentenceTransformer

        from static_edge.trainer.st_compat import embedding_dimension

        st = SentenceTransformer(str(path), device="cpu")
        dims = embedding_dimension(st)

        def encode(texts: list[str]) -> np.ndarray:
            return st.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False)

        return encode, dims, "Sentence Transformers"
    from model2vec import StaticModel

    static = StaticModel.from_pretrained(str(path))
    return (lambda texts: static.encode(texts, batch_size=batch_size)), static.dim, "model2vec"
