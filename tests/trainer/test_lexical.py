"""Lexical directions (trainer.lexical): idf-weighted random directions added to a static table's rows."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from static_edge.trainer.lexical import add_lexical_directions, idf_weights, lexical_directions


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_idf_weights_the_rarest_token_one_and_a_token_in_every_text_near_zero() -> None:
    """Frequencies 0 (never seen), 1 and 100 of 100 texts: the unseen token weighs 1, one in every text ~0."""
    weights = idf_weights(np.array([0, 1, 100]), documents=100)
    assert weights[0] == pytest.approx(1.0)
    assert 0 < weights[1] < 1 and weights[2] == pytest.approx(0.0, abs=1e-6)
    for bad in (np.array([-1, 2]), np.zeros((2, 2))):
        with pytest.raises(ValueError, match="count vector"):
            idf_weights(bad, documents=10)


def test_a_shared_rare_token_raises_the_cosine_a_shared_common_token_does_not() -> None:
    """A table where every row is the same (every text looks alike, cosine 1): with lexical directions, two texts
    sharing a rare token score above two that share only a common one, and a common token counts no more than no
    shared token. Strength 0 leaves the table as it was; the same seed gives the same rows."""
    table = np.ones((6, 64), dtype=np.float32)
    idf = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0], dtype=np.float32)  # 0, 1 common; 2..5 rare
    rows = lexical_directions(table, idf, strength=2.0, seed=3)

    def text(*ids: int) -> np.ndarray:
        return rows[list(ids)].mean(axis=0)

    shared_rare = _cosine(text(0, 2), text(1, 2))
    shared_common = _cosine(text(0, 3), text(0, 4))
    nothing_shared = _cosine(text(0, 3), text(1, 4))
    assert shared_rare == pytest.approx(1.0)
    assert shared_rare - shared_common > 0.3
    assert shared_common == pytest.approx(nothing_shared)
    assert np.array_equal(lexical_directions(table, idf, strength=0.0), table)
    assert np.array_equal(lexical_directions(table, idf, 2.0, seed=3), rows)
    assert not np.array_equal(lexical_directions(table, idf, 2.0, seed=4), rows)


def test_bad_weights_and_strengths_are_refused() -> None:
    """One idf weight per row, and a finite strength >= 0."""
    table = np.ones((4, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="3 weights for a table of 4 rows"):
        lexical_directions(table, np.ones(3, dtype=np.float32), 1.0)
    for strength in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="strength"):
            lexical_directions(table, np.ones(4, dtype=np.float32), strength)


def test_a_static_model_gains_directions_on_the_rows_of_rare_tokens_only(st_wordpiece) -> None:
    """On a real Sentence Transformers static model, idf counted on a small corpus: the row of a token in every
    text barely moves, a token in none moves the most, and the model still encodes."""
    model = SentenceTransformer(str(st_wordpiece), device="cpu")
    module = model[0]
    before = module.embedding.weight.detach().numpy().copy()
    texts = ["the cat sat", "the dog ran", "the bird flew", "the cat ran"]
    add_lexical_directions(model, texts, strength=1.0)
    after = module.embedding.weight.detach().numpy()
    moved = np.linalg.norm(after - before, axis=1)
    vocab = module.tokenizer.get_vocab()
    assert moved[vocab["the"]] < 1e-4 * moved.max()
    unseen = [i for t, i in vocab.items() if t not in {"the", "cat", "sat", "dog", "ran", "bird", "flew"}]
    assert moved[vocab["cat"]] < moved[unseen[0]] == pytest.approx(moved.max())
    assert np.isfinite(model.encode(["the cat"])).all()


def test_a_model_without_a_static_table_is_refused() -> None:
    """The first module must be a StaticEmbedding."""
    with pytest.raises(ValueError, match="static model"):
        add_lexical_directions([object()], ["text"], 1.0)
