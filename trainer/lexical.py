"""Lexical directions: an idf-weighted random direction added to each token's row of a static table.

A static model's sentence vector is the mean of its tokens' rows, so two texts' cosine sums every pair of their
tokens' dot products. Rows distilled from a transformer place a rare term near its synonyms, which blurs the exact
term matches a keyword search counts (BM25 leads many dense models on SciFact for that reason). Adding
`strength x idf(t) x r_t`, with `r_t` a fixed random unit vector per token, lays a random projection of the texts'
tf-idf vectors (random indexing) over the same dimensions: a shared rare token adds about its idf squared to the
dot product, while different tokens' directions are nearly orthogonal. Contrastive training then starts from rows
that already count exact matches.

Written here because no library adds random-indexing directions to an existing embedding table: scikit-learn's
random projections and tf-idf work on sparse document matrices, not on the rows a static model sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm


def document_frequencies(tokenizer: Any, texts: Sequence[str], vocab_size: int, batch: int = 10_000) -> np.ndarray:
    """How many of `texts` hold each token id (special tokens not added), counted with a `tokenizers.Tokenizer`."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    with tqdm(total=len(texts), desc="document frequencies", unit="text") as bar:
        for start in range(0, len(texts), batch):
            chunk = list(texts[start : start + batch])
            for encoding in tokenizer.encode_batch(chunk, add_special_tokens=False):
                ids = np.unique(np.asarray(encoding.ids, dtype=np.int64))
                counts[ids[ids < vocab_size]] += 1
            bar.update(len(chunk))
    return counts


def idf_weights(frequencies: np.ndarray, documents: int) -> np.ndarray:
    """Smoothed inverse document frequency, log((N + 1) / (df + 1)), scaled so the rarest token weighs 1."""
    if documents < 1 or frequencies.ndim != 1 or (frequencies < 0).any():
        raise ValueError("document frequencies must be a 1-d count vector over at least one document")
    idf = np.log((documents + 1) / (frequencies.astype(np.float64) + 1))
    return (idf / idf.max()).astype(np.float32) if idf.max() > 0 else np.zeros_like(idf, dtype=np.float32)


def check_strength(strength: float) -> float:
    """`strength` when it is a finite number >= 0.

    :raises ValueError: otherwise.
    """
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be a finite number >= 0, got {strength}")
    return strength


def lexical_directions(table: np.ndarray, idf: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
    """`table` plus `strength x median row norm x idf(t) x r_t` per row t, where r_t is a seeded random unit vector.

    :raises ValueError: when `idf` does not have one weight per row, or `strength` is negative or not finite.
    """
    if idf.shape != (table.shape[0],):
        raise ValueError(f"idf has {idf.shape[0] if idf.ndim else 0} weights for a table of {table.shape[0]} rows")
    check_strength(strength)
    directions = np.random.default_rng(seed).standard_normal(table.shape).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    scale = strength * float(np.median(np.linalg.norm(table, axis=1)))
    return (table + scale * idf[:, None] * directions).astype(table.dtype)


def static_table(model: Any) -> Any:
    """The embedding table (a torch parameter) of a Sentence Transformers static model.

    :raises ValueError: when the model's first module is not a StaticEmbedding.
    """
    module = model[0]
    if not hasattr(module, "embedding") or not hasattr(module, "tokenizer"):
        raise ValueError("lexical directions need a static model (a StaticEmbedding first module)")
    return module.embedding.weight


def model_idf(model: Any, texts: Sequence[str]) -> np.ndarray:
    """idf of each row of a static model's table, counted on `texts` with the model's own tokenizer."""
    frequencies = document_frequencies(model[0].tokenizer, texts, static_table(model).shape[0])
    return idf_weights(frequencies, len(texts))


def set_table(model: Any, rows: np.ndarray) -> Any:
    """Write `rows` into a static model's table, in place; returns the model."""
    import torch

    with torch.no_grad():
        static_table(model).copy_(torch.from_numpy(rows))
    return model


def add_lexical_directions(model: Any, texts: Iterable[str], strength: float, seed: int = 0) -> Any:
    """Add lexical directions (idf counted on `texts`) to the table of a Sentence Transformers static model, in
    place; returns the model.

    :raises ValueError: when the model's first module is not a StaticEmbedding, or the strength is not valid.
    """
    check_strength(strength)
    table = static_table(model).detach().cpu().numpy()
    return set_table(model, lexical_directions(table, model_idf(model, list(texts)), strength, seed))
