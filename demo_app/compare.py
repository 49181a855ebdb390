"""How far two embedders agree: the numbers the demo's comparison tab shows (pure numpy)."""

from __future__ import annotations

import numpy as np

from static_edge.runtimes import cosine_matrix


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores per row, best first (ties broken by index, so results are stable)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Mean fraction of shared documents in each query's top k under two score matrices."""
    ta, tb = top_k(a, k), top_k(b, k)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ta, tb, strict=True)]))


def rank(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing their mean rank, as Spearman's rho needs."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two equally long score lists."""
    ra, rb = rank(np.ravel(a)), rank(np.ravel(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def agreement(query_vectors: tuple[np.ndarray, np.ndarray], doc_vectors: tuple[np.ndarray, np.ndarray], k: int):
    """Top-k overlap, Spearman of all query-document scores, and the largest score gap between two embedders."""
    sa = cosine_matrix(query_vectors[0], doc_vectors[0])
    sb = cosine_matrix(query_vectors[1], doc_vectors[1])
    return {
        f"top-{k} overlap": top_k_overlap(sa, sb, min(k, sa.shape[1])),
        "Spearman of scores": spearman(sa, sb),
        "max score gap": float(np.abs(sa - sb).max()),
    }
