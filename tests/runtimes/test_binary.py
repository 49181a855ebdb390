"""Binary (ubinary) vectors: the documented bit order, Hamming distances and search."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.binary import (
    BinaryIndex,
    encode_ubinary,
    hamming_distances,
    popcount_table,
    to_ubinary,
    unpack_signs,
)
from static_edge.runtimes.samples import sample_corpus


def test_bit_order_is_msb_first_sign_bits():
    """Bit order is msb first sign bits."""
    vector = np.zeros((1, 12), dtype=np.float32)
    vector[0, [0, 3, 8, 11]] = [0.5, 2.0, 1e-9, 3.0]
    vector[0, [1, 9]] = -1.0  # negative and zero both give 0
    bits = to_ubinary(vector)
    assert bits.dtype == np.uint8 and bits.shape == (1, 2)
    # dims 0 and 3 -> bits 7 and 4 of byte 0; dims 8 and 11 -> bits 7 and 4 of byte 1 (rest padding)
    assert bits.tolist() == [[0b1001_0000, 0b1001_0000]]
    np.testing.assert_array_equal(unpack_signs(bits, 12)[0], np.where(vector[0] > 0, 1.0, -1.0))


def test_same_bytes_as_sentence_transformers_ubinary():
    """Same bytes as sentence transformers ubinary."""
    quantization = pytest.importorskip("sentence_transformers.quantization")
    vectors = np.random.default_rng(0).normal(size=(30, 64)).astype(np.float32)
    theirs = quantization.quantize_embeddings(vectors, precision="ubinary")
    np.testing.assert_array_equal(to_ubinary(vectors), theirs)


@pytest.mark.parametrize("dims", [128, 20])  # 16 bytes: the uint64 path; 3 bytes: the byte path
def test_hamming_distances_match_counting_differing_signs(dims):
    """Hamming distances match counting differing signs."""
    rng = np.random.default_rng(dims)
    a, b = rng.normal(size=(7, dims)), rng.normal(size=(40, dims))
    expected = ((a[:, None, :] > 0) != (b[None, :, :] > 0)).sum(axis=-1)
    np.testing.assert_array_equal(hamming_distances(to_ubinary(a), to_ubinary(b)), expected)


def test_popcount_table_fallback_counts_like_numpy():
    """Popcount table fallback counts like numpy."""
    values = np.random.default_rng(3).integers(0, 2**63, size=(5, 7), dtype=np.uint64)
    expected = [[bin(int(v)).count("1") for v in row] for row in values]
    assert popcount_table(values).tolist() == expected
    assert popcount_table(values.view(np.uint8)).tolist() == [
        [bin(int(v)).count("1") for v in row] for row in values.view(np.uint8)
    ]


def test_search_returns_nearest_by_hamming_with_ties_by_index():
    """Search returns nearest by hamming with ties by index."""
    rng = np.random.default_rng(1)
    corpus = rng.normal(size=(300, 64)).astype(np.float32)
    corpus[200] = corpus[17]  # an exact duplicate: a tie the index must break by position
    index = BinaryIndex.from_vectors(corpus)
    assert len(index) == 300 and index.nbytes == 300 * 8
    top, dist = index.search(corpus[[17, 5]], k=10)
    assert top[0, :2].tolist() == [17, 200] and dist[0, :2].tolist() == [0, 0]
    assert top[1, 0] == 5
    brute = ((corpus[[17, 5]][:, None, :] > 0) != (corpus[None, :, :] > 0)).sum(-1)
    for row in range(2):
        expected = sorted(range(300), key=lambda i: (brute[row, i], i))[:10]
        assert top[row].tolist() == expected
        assert dist[row].tolist() == brute[row, expected].tolist()
    everything, _ = index.search(corpus[5], k=1000)
    assert everything.shape == (1, 300) and sorted(everything[0].tolist()) == list(range(300))


def test_rescore_reranks_the_hamming_candidates_by_float_query_dot_signs():
    """Rescore reranks the hamming candidates by float query dot signs."""
    rng = np.random.default_rng(2)
    corpus = rng.normal(size=(500, 32)).astype(np.float32)
    query = rng.normal(size=(1, 32)).astype(np.float32)
    index = BinaryIndex.from_vectors(corpus)
    candidates, _ = index.search(query, k=40)
    top, scores = index.search(query, k=10, rescore=4)
    signs = np.where(corpus[candidates[0]] > 0, 1.0, -1.0)
    dots = signs @ query[0]
    expected = candidates[0][np.argsort(-dots, kind="stable")][:10]
    assert top[0].tolist() == expected.tolist()
    np.testing.assert_allclose(scores[0], np.sort(dots)[::-1][:10], rtol=1e-5)


def test_binary_search_finds_most_float_neighbours_on_real_bundle_vectors(st_bundle):
    """Binary search finds most float neighbours on real bundle vectors."""
    texts = sample_corpus()
    vectors = load(st_bundle, variant="fp32").encode(texts)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    float_top = np.argsort(-(unit[:20] @ unit.T), axis=1)[:, :10]
    index = BinaryIndex.from_vectors(vectors)
    np.testing.assert_array_equal(encode_ubinary(load(st_bundle, variant="fp32"), texts), index.bits)
    plain, _ = index.search(vectors[:20], k=10)
    rescored, _ = index.search(vectors[:20], k=10, rescore=4)
    recall = [
        np.mean([len(set(a) & set(b)) / 10 for a, b in zip(t, float_top, strict=True)]) for t in (plain, rescored)
    ]
    assert recall[0] > 0.3 and recall[1] >= recall[0] - 0.05, recall  # random picks would give 10/len(texts)


def test_bad_arguments_are_clear_errors():
    """Bad arguments are clear errors."""
    index = BinaryIndex.from_vectors(np.ones((3, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="dims"):
        index.search(np.ones((1, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="at least 1"):
        index.search(np.ones((1, 16), dtype=np.float32), k=0)
    with pytest.raises(ValueError, match="bytes per row"):
        hamming_distances(np.zeros((1, 2), np.uint8), np.zeros((1, 3), np.uint8))
    with pytest.raises(ValueError, match="packed bits"):
        BinaryIndex(np.zeros((2, 3), np.uint8), dims=16)


def test_binary_module_does_not_import_torch():
    """Binary module does not import torch."""
    code = "import sys, static_edge.runtimes.binary; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
