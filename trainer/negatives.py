"""Hard negatives mined from vectors a teacher already computed.

Sentence Transformers' `mine_hard_negatives` encodes the data with the model it is given. When the teacher's
vectors of the questions and passages are already on disk (the pre-training pass caches them), running the
teacher again costs as much as that pass; this miner takes the vectors instead. Its rule is the same as the
library's `relative_margin` (NV-Retriever's "TopK-PercPos"): the best-ranked passage that is not a positive of the
question and scores below `margin` x the positive's score, so near-duplicates of the answer (likely false negatives)
are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from static_edge.runtimes.errors import InputError


def mine_with_vectors(
    anchors: Sequence[str],
    positives: Sequence[str],
    anchor_vectors: np.ndarray,
    positive_vectors: np.ndarray,
    margin: float = 0.95,
    skip: int = 0,
    chunk: int = 2048,
) -> list[str | None]:
    """One hard negative per (anchor, positive) row, or None where no passage qualifies.

    The candidates are the distinct `positives` of all rows. For row i they are ranked by cosine to
    `anchor_vectors[i]`; the passages paired with the same anchor text are never chosen; the first `skip`
    qualifying candidates are passed over; the next one scoring below `margin` x cosine(anchor, its positive)
    is the negative.

    :raises InputError: when the vectors do not match the texts, or `margin` is not in (0, 1].
    """
    if len(anchor_vectors) != len(anchors) or len(positive_vectors) != len(positives) or len(anchors) != len(positives):
        raise InputError("one anchor vector and one positive vector per row are needed")
    if not 0 < margin <= 1:
        raise InputError(f"margin must be above 0 and at most 1, got {margin}")
    passages = list(dict.fromkeys(positives))
    row_of = {text: i for i, text in enumerate(passages)}
    first = {text: i for i, text in reversed(list(enumerate(positives)))}
    corpus = _unit(positive_vectors[[first[text] for text in passages]])
    queries = _unit(anchor_vectors)
    own_scores = np.einsum("ij,ij->i", queries, _unit(positive_vectors))
    answers: dict[str, set[int]] = defaultdict(set)
    for anchor, positive in zip(anchors, positives, strict=True):
        answers[anchor].add(row_of[positive])
    negatives: list[str | None] = []
    depth = min(len(passages), skip + 64)
    for start in range(0, len(anchors), chunk):
        scores = queries[start : start + chunk] @ corpus.T
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth] if depth < len(passages) else None
        for offset, row_scores in enumerate(scores):
            i = start + offset
            bound, own = margin * own_scores[i], answers[anchors[i]]
            windows = [np.arange(len(passages))] if top is None else [top[offset], np.arange(len(passages))]
            for candidates in windows:  # the top of the ranking first; the whole of it when nothing there qualifies
                ranked = candidates[np.argsort(-row_scores[candidates])]
                allowed = [c for c in ranked if c not in own and row_scores[c] < bound]
                if len(allowed) > skip:
                    break
            negatives.append(passages[allowed[skip]] if len(allowed) > skip else None)
    return negatives


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
