"""The embedder interface shared by every Python runtime."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm.auto import tqdm

from static_edge.runtimes.bundle import (
    TOKENIZER_FILE,
    VARIANT_FILES,
    BundleError,
    Manifest,
    inside_bundle,
    read_manifest,
    resolve_variant,
    verify_files,
)
from static_edge.runtimes.bundle_checks import check_bundle_model, check_max_length, tokenizer_id_span
from static_edge.runtimes.errors import InputError, InputTypeError
from static_edge.runtimes.pipeline import read_ahead
from static_edge.runtimes.tokenization import BundleTokenizer, text_starts, validate_texts, validated_chunks

Tag = TypeVar("Tag")

TOKEN_BUDGET = 4096
"""Most tokens one batch computes at once. Its [tokens, dims] intermediates stay small enough for the CPU caches,
and onnxruntime's arena, which keeps its largest batch's buffers, stays small too: with two batches at once on
262,144 short texts, 4,096 held 105 MB above the loaded model against 193 MB for 16,384, at the same speed."""

PIECE_TOKENS = TOKEN_BUDGET
"""A text longer than this is embedded in pieces of this many tokens (spec: docs/bundle-format.md#encoding): the
sum of each piece's rows, then divided by the text's count of counted tokens, normalized at the end when the
model normalizes. One text then costs one batch's working set (a few [PIECE_TOKENS, dims] float32 arrays),
whatever its length. A text longer than `TOKEN_BUDGET` is always alone in its batch, which is where it is caught."""

CHUNK_SIZE = 32_768
"""Texts tokenized at a time by `encode` and `encode_batches`: their ids (about 1 KB a short text while
tokenizers' objects live) bound the memory beyond the output, and onnxruntime's length-sorted padded
batches are sorted within a chunk."""


def token_limited_batches(
    order: np.ndarray, lengths: np.ndarray, batch_size: int, padded: bool, token_budget: int = TOKEN_BUDGET
) -> Iterator[np.ndarray]:
    """Cut `order` into runs of at most `batch_size` texts whose cost fits `token_budget`, never fewer than one text.

    The cost is the sum of the lengths, or for padded batches of length-sorted texts, count x longest.
    """
    ordered = lengths[order]
    begin = 0
    while begin < len(order):
        end = min(begin + batch_size, len(order))
        run = ordered[begin:end]
        # both costs grow with each text added (padded runs are length-sorted), so a binary search finds the cut
        cost = run * np.arange(1, len(run) + 1) if padded else np.cumsum(run)
        end = begin + max(int(np.searchsorted(cost, token_budget, side="right")), 1)
        yield order[begin:end]
        begin = end


def _check_batch_size(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InputTypeError(f"batch_size must be an integer, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")


def l2_normalize(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows divided by max(norm, eps), as torch's `F.normalize`; zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, eps)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of `a` with every row of `b`."""
    return l2_normalize(np.asarray(a, dtype=np.float32)) @ l2_normalize(np.asarray(b, dtype=np.float32)).T


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of `a` with the same row of `b`, in float64; two zero rows agree (1.0), a zero and a
    non-zero row do not (0.0)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-300)
    return np.where(both_zero, 1.0, cos)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, so `taskset -c 0` counts one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_bundle_tokenizer(bundle: Path, manifest: Manifest) -> BundleTokenizer:
    """The bundle's tokenizer.json (which must lie inside the bundle) with the manifest's unknown-token rule.

    :raises BundleError: for a file the tokenizers library cannot read.
    """
    path = inside_bundle(bundle, TOKENIZER_FILE)
    try:
        return BundleTokenizer(path, manifest.unk_token_id, manifest.mask_unknown)
    except Exception as err:  # tokenizers raises a bare Exception for a file it cannot parse
        raise BundleError(f"{path} is not a readable tokenizers file: {err}") from err


class _NoProgress:
    """What `_progress` returns when no bar is shown: a context manager whose `update` does nothing."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        """Nothing to show."""


class StaticEmbedder(ABC):
    """Loads one variant of a bundle and turns texts into sentence vectors.

    :param bundle: the bundle folder written by `static-edge export`.
    :param variant: "fp32", "fp16", "int8", "int4" or "int2"; the fastest on a CPU that the bundle holds when None.
    :param verify: check the sha256 of the tokenizer and the model file against the manifest, and that every
        table value is finite.
    :param threads: batches embedded at once, each on one core; 0 (the default) uses every core this process may
        run on, 1 embeds in the calling thread only.
    :param sha256: the bundle digest to pin (`static_edge.runtimes.bundle.bundle_digest`, printed by
        `static-edge export` and `check`): the manifest must have exactly this digest; implies `verify`.
    :raises BundleError: for a missing, unknown, tampered or truncated bundle, a manifest that disagrees with
        its graph or tokenizer, a file outside the bundle folder, or a bundle other than the pinned one.
    """

    backend: str = ""

    def __init__(
        self,
        bundle: str | os.PathLike[str],
        variant: str | None = None,
        verify: bool = True,
        sha256: str | None = None,
        threads: int = 0,
    ):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise InputError(f"threads must be 0 (every core this process may use) or more, got {threads!r}")
        self.threads = threads or available_cores()
        self._pool: ThreadPoolExecutor | None = None
        self.path = Path(bundle)
        self.manifest: Manifest = read_manifest(self.path, sha256=sha256)
        self.variant = resolve_variant(self.manifest, variant)
        self.model_file = inside_bundle(self.path, VARIANT_FILES[self.variant])
        verify = verify or sha256 is not None  # a pin means nothing unless the files are checked against it
        if verify:
            verify_files(self.path, self.manifest, [TOKENIZER_FILE, VARIANT_FILES[self.variant]])
        self.tokenizer = load_bundle_tokenizer(self.path, self.manifest)
        # the manifest against the graph and tokenizer (and, when verifying, every table value finite)
        self.graph_facts = check_bundle_model(
            self.manifest, self.variant, self.model_file, tokenizer_id_span(self.tokenizer.tokenizer), verify
        )
        check_max_length(self.manifest, self.tokenizer.tokenizer.truncation)
        self._load_model()

    def _load_model(self) -> None:
        """Backend hook run at the end of construction, once the bundle is verified (the numpy table, the onnxruntime
        session)."""
        return None

    @property
    def dims(self) -> int:
        """Length of every vector `encode` returns."""
        return self.manifest.dims

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, variant={self.variant!r}, dims={self.dims})"

    def encode(
        self,
        texts: Sequence[str] | str,
        batch_size: int = 1024,
        show_progress: bool = False,
        chunk_size: int = CHUNK_SIZE,
    ) -> np.ndarray:
        """Sentence vectors, float32 [len(texts), dims], in the order of `texts`.

        Streams: `chunk_size` texts are tokenized at a time (the next chunk while the current one is embedded),
        so memory beyond the returned array is bounded by one chunk's token ids, whatever the input size; a long
        text is tokenized and embedded in pieces, so it adds its ids (8 bytes a token) and one batch's working set.

        :raises ValueError: for an empty list or a batch_size below 1.
        :raises TypeError: for an item that is not a string.
        """
        texts = validate_texts(texts)
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        if len(texts) <= chunk_size and not show_progress:  # a query or a small list: no stream to set up
            _check_batch_size(batch_size)
            return self._embed_chunk(*self.tokenizer.flat(texts), batch_size, out, 0)
        with self._progress(len(texts), show_progress) as bar:
            for vectors in self._stream(validated_chunks(texts, chunk_size), batch_size, out):
                bar.update(len(vectors))
        return out

    def encode_batches(
        self,
        texts: Iterable[str] | str,
        batch_size: int = 1024,
        chunk_size: int = CHUNK_SIZE,
        show_progress: bool = False,
    ) -> Iterator[np.ndarray]:
        """Vectors of any iterable of texts (a generator, an open file's lines), one float32 array per chunk.

        The arrays come in input order and together equal `encode(list(texts))`; at most two chunks of texts
        and their ids are held at a time, so a corpus of any size streams in bounded memory. An empty
        iterable yields nothing.

        :raises ValueError: for a batch_size or chunk_size below 1.
        :raises TypeError: for an item that is not a string, naming its position in the stream.
        """
        total = len(texts) if isinstance(texts, Sized) and not isinstance(texts, str) else None
        with self._progress(total, show_progress) as bar:
            for vectors in self._stream(validated_chunks(texts, chunk_size), batch_size):
                bar.update(len(vectors))
                yield vectors

    def _progress(self, total: int | None, show: bool) -> tqdm | _NoProgress:
        if not show:  # tqdm(disable=True) still costs ~25 us a call: too much for one query
            return _NoProgress()
        return tqdm(total=total, desc=f"encode ({self.backend})", unit="text", unit_scale=True)

    def encode_counted(self, texts: Sequence[str] | str, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of a request's worth of texts, tokenized at once, and each text's token count (for usage reports).

        :raises ValueError: for an empty list or a batch_size below 1.
        :raises TypeError: for an item that is not a string.
        """
        ids, lengths = self.tokenize(texts)
        return self.embed_tokens(ids, lengths, batch_size), lengths

    def tokenize(self, texts: Sequence[str] | str) -> tuple[np.ndarray, np.ndarray]:
        """Flat token ids of `texts` (all texts' ids end to end) and each text's count: the first half of `encode`.

        :raises ValueError: for an empty list.
        :raises TypeError: for an item that is not a string.
        """
        return self.tokenizer.flat(validate_texts(texts))

    def embed_tokens(self, ids: np.ndarray, lengths: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Vectors of texts tokenized by `tokenize`: the second half of `encode` (a server times the two apart).

        Bounded like `encode`: at most `TOKEN_BUDGET` tokens a batch, a longer text in pieces of `PIECE_TOKENS`.
        """
        _check_batch_size(batch_size)
        return self._embed_chunk(ids, lengths, batch_size, None, 0)

    def encode_chunks(
        self, chunks: Iterable[tuple[Tag, Sequence[str]]], batch_size: int = 1024
    ) -> Iterator[tuple[Tag, np.ndarray]]:
        """(tag, vectors) for each (tag, texts) chunk, in order; tags pass through untouched (a file's row ids).

        The next chunk is read and tokenized in a worker thread while this one is embedded (tokenizers and
        onnxruntime release the GIL), at most two chunks ahead: a stream of any length in bounded memory.

        :raises TypeError: for an item that is not a string, naming its position in the stream.
        """
        _check_batch_size(batch_size)
        for tag, (ids, lengths) in self._tokenized_ahead(chunks):
            yield tag, self._embed_chunk(ids, lengths, batch_size, None, 0)

    def _tokenized_ahead(
        self, chunks: Iterable[tuple[Tag, Sequence[str]]], validate: bool = True
    ) -> Iterator[tuple[Tag, Any]]:
        """(tag, (ids, lengths)) per chunk, tokenized in the read-ahead worker; `validate=False` for chunks that
        `validated_chunks` already checked (`encode`, `encode_batches`)."""
        offset = 0

        def tokenize(chunk: tuple[Tag, Sequence[str]]) -> tuple[Tag, Any]:
            nonlocal offset
            texts = chunk[1]
            if validate:
                texts = validate_texts(texts, offset) if len(texts) else []
            offset += len(texts)
            return chunk[0], self.tokenizer.flat(texts) if texts else (np.zeros(0, np.int64), np.zeros(0, np.int64))

        return read_ahead(chunks, tokenize)

    def _stream(
        self, chunks: Iterable[list[str]], batch_size: int, out: np.ndarray | None = None
    ) -> Iterator[np.ndarray]:
        """`encode_chunks` of validated chunks without tags, writing into consecutive rows of `out` when given."""
        _check_batch_size(batch_size)
        row = 0
        for _, (ids, lengths) in self._tokenized_ahead(((None, chunk) for chunk in chunks), validate=False):
            vectors = self._embed_chunk(ids, lengths, batch_size, out, row)
            row += len(vectors)
            yield vectors

    def _embed_chunk(
        self, ids: np.ndarray, lengths: np.ndarray, batch_size: int, out: np.ndarray | None, row: int
    ) -> np.ndarray:
        """Vectors of one tokenized chunk, in its order (into `out[row:]` when given)."""
        if out is None:
            vectors = np.empty((len(lengths), self.dims), dtype=np.float32)
        else:
            vectors = out[row : row + len(lengths)]
        starts = text_starts(lengths)

        def embed(rows: np.ndarray) -> None:
            if len(rows) == 1 and lengths[rows[0]] > PIECE_TOKENS:
                start = starts[rows[0]]
                vectors[rows[0]] = self._embed_long(ids[start : start + lengths[rows[0]]])
            else:
                vectors[rows] = self._embed(ids, starts[rows], lengths[rows])

        batches = list(self._batches(lengths, batch_size))
        if self.threads > 1 and len(batches) > 1:
            # batches run at once on the cores: onnxruntime and numpy's gathers release the GIL (measured on 2 cores,
            # 131k short texts: 2.3x onnxruntime's one-thread rate, 2x its own intra-op threads; numpy 1.45x)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="static-edge-embed")
            for _ in self._pool.map(embed, batches):
                pass
        else:
            for rows in batches:
                embed(rows)
        return vectors

    def _embed_long(self, ids: np.ndarray) -> np.ndarray:
        """The vector of one long text, `PIECE_TOKENS` ids at a time: the pieces' row sums (added in float64) over
        the count of counted ids, L2-normalized at the end only when the model normalizes."""
        total = np.zeros(self.dims, dtype=np.float64)
        count = 0.0
        for begin in range(0, len(ids), PIECE_TOKENS):
            piece = ids[begin : begin + PIECE_TOKENS]
            counted = self._counted(piece)
            total += self._piece_sum(piece, counted)
            count += float(counted.sum())
        mean = (total / max(count, 1.0))[None, :]
        return (l2_normalize(mean) if self.manifest.normalize else mean)[0].astype(np.float32)

    def _counted(self, ids: np.ndarray) -> np.ndarray:
        """Float32 weight 1 for each id that counts towards the mean, 0 for an unknown one the source drops."""
        if self.manifest.mask_unknown and self.manifest.unk_token_id is not None:
            return (ids != self.manifest.unk_token_id).astype(np.float32)
        return np.ones(len(ids), dtype=np.float32)

    @abstractmethod
    def _piece_sum(self, ids: np.ndarray, counted: np.ndarray) -> np.ndarray:
        """The sum of the decoded rows of `ids` (one piece of a long text), each weighted by `counted`: [dims]."""

    def similarity(self, queries: Sequence[str] | str, documents: Sequence[str] | str) -> np.ndarray:
        """Cosine similarity matrix [len(queries), len(documents)]."""
        return cosine_matrix(self.encode(queries), self.encode(documents))

    def _batches(self, lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
        """Row indices per batch: consecutive texts, at most `batch_size` of them and `TOKEN_BUDGET` tokens."""
        return token_limited_batches(np.arange(len(lengths)), lengths, batch_size, padded=False)

    @abstractmethod
    def _embed(self, ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Vectors of the texts whose ids are `ids[starts[i] : starts[i] + lengths[i]]`."""
