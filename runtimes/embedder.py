"""The embedder interface shared by every Python runtime."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from static_edge.runtimes.bundle import (
    TOKENIZER_FILE,
    VARIANT_FILES,
    Manifest,
    read_manifest,
    resolve_variant,
    verify_files,
)
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.tokenization import BundleTokenizer, text_starts, validate_texts

TOKEN_BUDGET = 16_384
"""Most tokens one batch computes at once: the [tokens, dims] intermediates then stay small enough for
the CPU caches, which matters for long texts at large batch sizes."""


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


def l2_normalize(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows divided by max(norm, eps), as torch's `F.normalize`; zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, eps)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of `a` with every row of `b`."""
    return l2_normalize(np.asarray(a, dtype=np.float32)) @ l2_normalize(np.asarray(b, dtype=np.float32)).T


class StaticEmbedder(ABC):
    """Loads one variant of a bundle and turns texts into sentence vectors.

    :param bundle: the bundle folder written by `static-edge export`.
    :param variant: "fp32", "fp16" or "int8"; the bundle's default variant when None.
    :param verify: check the sha256 of the tokenizer and the model file against the manifest.
    :raises BundleError: for a missing, unknown, tampered or truncated bundle.
    """

    backend: str = ""

    def __init__(self, bundle: str | os.PathLike[str], variant: str | None = None, verify: bool = True):
        self.path = Path(bundle)
        self.manifest: Manifest = read_manifest(self.path)
        self.variant = resolve_variant(self.manifest, variant)
        self.model_file = self.path / VARIANT_FILES[self.variant]
        if verify:
            verify_files(self.path, self.manifest, [TOKENIZER_FILE, VARIANT_FILES[self.variant]])
        self.tokenizer = BundleTokenizer(
            self.path / TOKENIZER_FILE, self.manifest.unk_token_id, self.manifest.mask_unknown
        )

    @property
    def dims(self) -> int:
        """Length of every vector `encode` returns."""
        return self.manifest.dims

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, variant={self.variant!r}, dims={self.dims})"

    def encode(self, texts: Sequence[str] | str, batch_size: int = 1024, show_progress: bool = False) -> np.ndarray:
        """Sentence vectors, float32 [len(texts), dims], in the order of `texts`.

        :raises ValueError: for an empty list or a batch_size below 1.
        :raises TypeError: for an item that is not a string.
        """
        texts = validate_texts(texts)
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        ids, lengths = self.tokenizer.flat(texts)
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        starts = text_starts(lengths)
        batches = list(self._batches(lengths, batch_size))
        for rows in tqdm(batches, desc=f"encode ({self.backend})", disable=not show_progress, unit="batch"):
            out[rows] = self._embed(ids, starts[rows], lengths[rows])
        return out

    def similarity(self, queries: Sequence[str] | str, documents: Sequence[str] | str) -> np.ndarray:
        """Cosine similarity matrix [len(queries), len(documents)]."""
        return cosine_matrix(self.encode(queries), self.encode(documents))

    def _batches(self, lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
        """Row indices per batch: consecutive texts, at most `batch_size` of them and `TOKEN_BUDGET` tokens."""
        return token_limited_batches(np.arange(len(lengths)), lengths, batch_size, padded=False)

    @abstractmethod
    def _embed(self, ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Vectors of the texts whose ids are `ids[starts[i] : starts[i] + lengths[i]]`."""
