"""A 2-D map of embeddings: PCA by numpy's SVD, with queries placed by the same projection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projection:
    """A fitted 2-D PCA: call it on vectors to get their map coordinates."""

    mean: np.ndarray
    components: np.ndarray
    """[2, dims]: the two directions of largest variance."""
    explained: float
    """Fraction of the corpus variance the two axes keep."""

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        """[n, 2] coordinates of `vectors` on the map."""
        return (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.components.T


def fit_pca(vectors: np.ndarray) -> Projection:
    """The 2-D PCA of `vectors` (at least two rows). Signs are fixed (largest loading positive) so maps are stable."""
    data = np.asarray(vectors, dtype=np.float64)
    mean = data.mean(axis=0)
    centered = data - mean
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    components = np.zeros((2, data.shape[1]))
    k = min(2, vt.shape[0])
    components[:k] = vt[:k]
    for row in components:
        pivot = np.argmax(np.abs(row))
        if row[pivot] < 0:
            row *= -1
    total = float((singular**2).sum())
    explained = float((singular[:k] ** 2).sum() / total) if total > 0 else 0.0
    return Projection(mean=mean, components=components, explained=explained)
