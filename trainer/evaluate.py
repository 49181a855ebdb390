"""Evaluate a static model folder or an exported bundle: STS Spearman, retrieval nDCG@10 and cross-lingual
retrieval (top-1 accuracy of finding a sentence's translation), per dimension.

Scores are computed here from the embeddings (one code path for a model folder, a bundle variant
and every Matryoshka slice), rather than through Sentence Transformers' evaluators, which need a
SentenceTransformer object and cannot score an ONNX file. Spearman comes from scipy; nDCG@10
follows BEIR's definition (graded gains, log2 discount, ideal ranking from the judgements).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from static_edge.runtimes.embedder import l2_normalize, rowwise_cosine
from static_edge.runtimes.errors import DataError, InputError
from static_edge.runtimes.model_folders import holds_manifest, is_sentence_transformers_folder

EncodeFn = Callable[[list[str]], np.ndarray]
"""texts -> [n, dims] vectors, unnormalized."""
EncoderKind = Literal["bundle", "Sentence Transformers", "model2vec"]


@dataclass(frozen=True)
class Encoder:
    """A model loaded for scoring: how it encodes, its full width, what it is and (a bundle) which variant."""

    encode: EncodeFn
    dims: int
    kind: EncoderKind
    variant: str | None = None
    """The bundle variant that encodes (None for a model folder)."""

    @property
    def description(self) -> str:
        """What is scored, for titles and reports: "bundle int8", "Sentence Transformers", "model2vec"."""
        return f"bundle {self.variant}" if self.kind == "bundle" else self.kind

    def __call__(self, texts: list[str]) -> np.ndarray:
        """The vectors of `texts` (an `Encoder` is an `EncodeFn`)."""
        return self.encode(texts)


@dataclass
class StsData:
    """Sentence pairs with gold similarity scores."""

    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray


@dataclass
class RetrievalData:
    """A BEIR retrieval task: the judged queries, the corpus and the relevance judgements (query -> doc -> grade)."""

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

    :raises DataError: for a missing or unreadable file, a JSONL row without "en"/"other", or a language with
        fewer than 2 usable pairs.
    """
    path = _existing_file(path, "parallel sentences")
    rows: list[tuple[str, str, str]] = []
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        for number, record in enumerate(_read_jsonl(path), start=1):
            if not isinstance(record.get("en"), str) or not isinstance(record.get("other"), str):
                raise DataError(f"{path}: row {number} needs string fields 'en' and 'other'")
            rows.append((str(record.get("lang", "pairs")), record["en"], record["other"]))
    else:
        with _text(path, newline="") as handle:
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
        raise DataError(
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

    :raises DataError: for a missing or unreadable file, or when no row has two texts and a numeric score.
    """
    path = _existing_file(path, "STS")
    delimiter = "\t" if path.suffix in (".tsv", ".tab") else ","
    s1, s2, scores = [], [], []
    with _text(path, newline="") as handle:
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
        raise DataError(f"{path} has no rows of the form sentence1, sentence2, score")
    return StsData(s1, s2, np.array(scores))


def read_beir(folder: str | os.PathLike[str], split: str = "train") -> RetrievalData:
    """A BEIR folder: corpus.jsonl(.gz), queries(_split).jsonl, qrels(_split).tsv or qrels/split.tsv.

    Only queries with judgements are kept.

    :raises DataError: naming the file that is missing or unreadable, or a record without `_id` or `text`; or
        when no query has a judgement.
    """
    folder = Path(folder)
    corpus_file = _first_existing(folder, ["corpus.jsonl.gz", "corpus.jsonl"])
    queries_file = _first_existing(folder, [f"queries_{split}.jsonl", "queries.jsonl"])
    qrels_file = _first_existing(folder, [f"qrels_{split}.tsv", f"qrels/{split}.tsv"])
    corpus = {}
    for number, record in enumerate(_read_jsonl(corpus_file), start=1):
        doc_id = _field(record, "_id", corpus_file, number)
        corpus[str(doc_id)] = f"{record.get('title', '')} {record.get('text', '')}".strip()
    qrels: dict[str, dict[str, int]] = {}
    with _text(qrels_file) as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
                continue  # header
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {}
    for number, record in enumerate(_read_jsonl(queries_file), start=1):
        query_id = str(_field(record, "_id", queries_file, number))
        if query_id in qrels:
            queries[query_id] = _field(record, "text", queries_file, number)
    if not queries:
        raise DataError(f"{folder}: no query in {queries_file.name} has a judgement in {qrels_file.name}")
    return RetrievalData(queries, corpus, {q: qrels[q] for q in queries})


def _field(record: dict[str, Any], name: str, path: Path, number: int) -> Any:
    """`record[name]`, or a `DataError` naming the file and line that lack it."""
    if name not in record:
        raise DataError(f"{path}: line {number} has no {name!r} field")
    return record[name]


def _existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """`path` as a Path, or a `DataError` when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file {path} {'is a folder' if path.is_dir() else 'not found'}")
    return path


def _first_existing(folder: Path, names: list[str]) -> Path:
    """The first of `names` that is a file in `folder`."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder} has none of {names} (expected the BEIR layout)")


@contextlib.contextmanager
def _text(path: Path, newline: str | None = None) -> Iterator[Any]:
    """`path` opened as UTF-8 text (gzip for .gz); a byte that is not UTF-8 or a broken gzip is a `DataError`."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline=newline) as handle:
        try:
            yield handle
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
            raise DataError(f"{path} cannot be read as UTF-8 text: {err}") from err


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL(.gz) file, blank lines skipped; a line that is not a JSON object is a `DataError`."""
    with _text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as err:
                raise DataError(f"{path}: line {number} is not JSON ({err})") from err
            if not isinstance(record, dict):
                raise DataError(f"{path}: line {number} is not a JSON object")
            yield record


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
    total = 0.0
    for start in range(0, len(q), 256):
        scores = q[start : start + 256] @ d.T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        for row, query_id in enumerate(query_ids[start : start + 256]):
            ranked = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
            total += query_ndcg(ranked, qrels[query_id], doc_ids, k)
    return 100 * total / len(query_ids)


def query_ndcg(ranked: Sequence[int], judged: dict[str, int], doc_ids: list[str], k: int = 10) -> float:
    """nDCG@k (0..1) of one query's ranking (indices into `doc_ids`, best first) against its judgements; 0 when
    none of its judgements is relevant."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.array([judged.get(doc_ids[i], 0) for i in ranked[:k]], dtype=np.float64)
    ideal = np.sort(np.array(list(judged.values()), dtype=np.float64))[::-1][:k]
    idcg = float((ideal * discounts[: len(ideal)]).sum())
    return float((gains * discounts[: len(gains)]).sum()) / idcg if idcg > 0 else 0.0


def evaluate(
    encode: EncodeFn,
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


def load_encoder(path: str | os.PathLike[str], variant: str | None = None, batch_size: int = 1024) -> Encoder:
    """The `Encoder` of a bundle folder, a static model folder or a model2vec folder or hub id.

    A bundle is read with `runtimes` (so the int8 file's score is measured, not assumed); a model folder with
    Sentence Transformers; anything else with model2vec.

    :param variant: the bundle variant to score (default: the bundle's default); only for a bundle.
    :raises InputError: for a `variant` of something that is not a bundle.
    :raises BundleError: for a bundle that cannot be read or lacks `variant`.
    :raises ModelLoadError: for a `path` that is none of those.
    """
    path = Path(path)
    if holds_manifest(path):
        from static_edge.runtimes import load

        bundle = load(path, variant=variant)
        return Encoder(lambda texts: bundle.encode(texts, batch_size=batch_size), bundle.dims, "bundle", bundle.variant)
    if variant is not None:
        raise InputError(f"{path} is not a bundle (it has no static_edge.json): a variant applies to bundles only")
    if is_sentence_transformers_folder(path):
        from static_edge.trainer.loading import load_static_model
        from static_edge.trainer.st_compat import embedding_dimension

        st = load_static_model(path)

        def encode(texts: list[str]) -> np.ndarray:
            return st.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False)

        return Encoder(encode, embedding_dimension(st), "Sentence Transformers")
    from model2vec import StaticModel

    from static_edge.trainer.loading import load_error

    try:
        static = StaticModel.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as err:  # no such folder or hub id, or not a model2vec model
        raise load_error("model", path, err) from err
    return Encoder(lambda texts: static.encode(texts, batch_size=batch_size), static.dim, "model2vec")


def model_encoder(
    path: str | os.PathLike[str], variant: str | None = None, batch_size: int = 1024
) -> tuple[EncodeFn, int, str]:
    """`load_encoder` as the tuple (encode, full dims, description) that earlier callers unpack."""
    encoder = load_encoder(path, variant, batch_size)
    return encoder.encode, encoder.dims, encoder.description
