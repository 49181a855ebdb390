"""Hard negatives mined from a teacher's vectors (trainer.negatives.mine_with_vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from static_edge.runtimes.errors import InputError
from static_edge.trainer.negatives import mine_with_vectors


def _vectors(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def test_the_best_ranked_passage_below_the_margin_is_chosen() -> None:
    """Question q0's positive is p0; p1 is almost p0 (a likely false negative: above 0.95 x the positive's
    score), p2 is the next closest and is chosen; q1's negative is never one of its own positives."""
    anchors = ["q0", "q1"]
    positives = ["p0", "p2"]
    passages = {"p0": [1, 0, 0], "p2": [0.6, 0.8, 0]}
    extra_pair = (["q2"], ["p1"], [[0, 0, 1]], [[0.99, 0.1, 0]])
    anchors += extra_pair[0]
    positives += extra_pair[1]
    anchor_vectors = _vectors([1, 0, 0], [0.6, 0.8, 0], *extra_pair[2])
    positive_vectors = _vectors(passages["p0"], passages["p2"], *extra_pair[3])
    negatives = mine_with_vectors(anchors, positives, anchor_vectors, positive_vectors, margin=0.95)
    assert negatives[0] == "p2"  # p1 scores 0.995 > 0.95 x 1.0: skipped as a probable positive
    assert negatives[1] not in (None, "p2")


def test_a_question_with_several_positives_never_gets_one_of_them() -> None:
    """The same question paired with two passages: neither is its negative, whatever the scores."""
    anchors = ["q", "q", "other"]
    positives = ["a", "b", "c"]
    anchor_vectors = _vectors([1, 0], [1, 0], [0, 1])
    positive_vectors = _vectors([1, 0.01], [1, 0.02], [0.3, 1])
    negatives = mine_with_vectors(anchors, positives, anchor_vectors, positive_vectors, margin=1.0)
    assert negatives[0] == negatives[1] == "c"


def test_no_candidate_below_the_margin_gives_none_and_skip_passes_over_the_best() -> None:
    """Every other passage scores above the margin: None; `skip` moves to the next qualifying candidate."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    anchors, positives = [f"q{i}" for i in range(6)], [f"p{i}" for i in range(6)]
    same = _vectors([1, 0], [1, 0])
    assert mine_with_vectors(["a", "b"], ["x", "y"], same, same, margin=0.9) == [None, None]
    first = mine_with_vectors(anchors, positives, vectors, vectors, margin=1.0)
    second = mine_with_vectors(anchors, positives, vectors, vectors, margin=1.0, skip=1)
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        scores = {p: float(vectors[i] @ vectors[j]) for j, p in enumerate(positives) if j != i}
        ranked = [p for p in sorted(scores, key=scores.get, reverse=True) if scores[p] < 1.0]
        assert (a, b) == (ranked[0], ranked[1])


def test_bad_shapes_and_margins_are_refused() -> None:
    """Vectors that do not match the rows, or a margin outside (0, 1], are one InputError."""
    with pytest.raises(InputError, match="one anchor vector"):
        mine_with_vectors(["a"], ["b"], _vectors([1, 0], [0, 1]), _vectors([1, 0]))
    with pytest.raises(InputError, match="margin"):
        mine_with_vectors(["a"], ["b"], _vectors([1, 0]), _vectors([1, 0]), margin=1.5)
