"""Streaming encode: chunks of any iterable, in input order, equal to encoding the whole list at once."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.samples import sample_corpus


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """The sample corpus plus the parity texts."""
    return sample_corpus() + PARITY_TEXTS


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_encode_batches_of_a_generator_equal_encode(st_bundle, texts, backend):
    """Encode batches of a generator equal encode."""
    model = load(st_bundle, backend=backend)
    whole = model.encode(texts)
    chunks = list(model.encode_batches((t for t in texts), batch_size=4, chunk_size=7))
    assert [len(c) for c in chunks] == [7] * (len(texts) // 7) + ([len(texts) % 7] if len(texts) % 7 else [])
    assert all(c.dtype == np.float32 and c.shape[1] == model.dims for c in chunks)
    # ids, padding and sorting are per chunk, the vectors must not notice
    np.testing.assert_allclose(np.concatenate(chunks), whole, atol=1e-6, rtol=0)


def test_encode_streams_in_chunks_and_matches_one_chunk(st_bundle, texts):
    """Encode streams in chunks and matches one chunk."""
    model = load(st_bundle)
    np.testing.assert_allclose(
        model.encode(texts, chunk_size=5), model.encode(texts, chunk_size=len(texts)), atol=1e-6, rtol=0
    )


def test_an_endless_stream_is_read_lazily(st_bundle):
    """Only the chunks asked for are read: an endless generator would never end if encode read it all."""
    model = load(st_bundle)
    endless = itertools.cycle(["a dog runs in the park", "stock markets fell"])
    first, second = itertools.islice(model.encode_batches(endless, chunk_size=3), 2)
    assert first.shape == second.shape == (3, model.dims)
    np.testing.assert_allclose(first[0], second[1], atol=1e-6)  # stream positions 0 and 4 hold the same text


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_encode_chunks_passes_each_tag_with_its_vectors(st_bundle, texts, backend):
    """A file encode's path: (row ids, texts) in, (row ids, vectors) out, in order, the stream read lazily."""
    model = load(st_bundle, backend=backend)
    pieces = [texts[:5], [], texts[5:6], texts[6:40]]
    tagged = [([f"row{i}"] * len(piece), piece) for i, piece in enumerate(pieces)]
    out = list(model.encode_chunks(iter(tagged), batch_size=3))
    assert [tag for tag, _ in out] == [tag for tag, _ in tagged]
    assert [v.shape for _, v in out] == [(len(p), model.dims) for p in pieces]
    np.testing.assert_allclose(np.concatenate([v for _, v in out]), model.encode(texts[:40]), atol=1e-6, rtol=0)

    endless = ((i, ["a dog runs in the park"] * 2) for i in itertools.count())
    assert [tag for tag, _ in itertools.islice(model.encode_chunks(endless), 3)] == [0, 1, 2]
    with pytest.raises(TypeError, match=r"texts\[6\] is int"):  # the position in the whole stream
        list(model.encode_chunks([("a", ["x"] * 5), ("b", ["x", 7])]))


def test_stream_errors_name_the_position_in_the_whole_stream(st_bundle):
    """Stream errors name the position in the whole stream."""
    model = load(st_bundle)
    stream = (text if i != 12 else b"bytes" for i, text in enumerate(["x"] * 20))
    with pytest.raises(TypeError, match=r"texts\[12\] is bytes"):
        list(model.encode_batches(stream, chunk_size=5))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        list(model.encode_batches(["x"], batch_size=0))
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        model.encode(["x"], batch_size="8")
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        list(model.encode_batches(["x"], chunk_size=0))
    with pytest.raises(TypeError, match="iterable of strings"):
        list(model.encode_batches(42))
    assert list(model.encode_batches(iter([]))) == []


def test_tokenizer_batches_give_the_same_ids(st_bundle, texts):
    """`flat` tokenizes in sub-batches to bound memory; the ids must not depend on the cut."""
    tokenizer = load(st_bundle).tokenizer
    ids, lengths = tokenizer.flat(texts)
    small_ids, small_lengths = tokenizer.flat(texts, batch=3)
    np.testing.assert_array_equal(ids, small_ids)
    np.testing.assert_array_equal(lengths, small_lengths)
    assert lengths.sum() == len(ids) and len(lengths) == len(texts)


def _reference_ids(path, texts):
    from tokenizers import Tokenizer

    return [e.ids for e in Tokenizer.from_file(str(path)).encode_batch_fast(texts, add_special_tokens=False)]


def _split(ids, lengths):
    return [row.tolist() for row in np.split(ids, np.cumsum(lengths)[:-1])]


def test_fast_wordpiece_is_used_only_where_ids_are_identical(st_bundle, st_unigram, texts, tmp_path, monkeypatch):
    """Fast WordPiece is used only where ids are identical."""
    pytest.importorskip("nanotoken")
    from tokenizers import Tokenizer

    from static_edge.runtimes.tokenization import BundleTokenizer

    wordpiece = BundleTokenizer(st_bundle / "tokenizer.json")
    assert wordpiece.library == "nanotoken"
    assert _split(*wordpiece.flat(texts)) == _reference_ids(st_bundle / "tokenizer.json", texts)

    # the bundle's truncation is part of tokenizer.json; nanotoken must apply it too
    truncated = Tokenizer.from_file(str(st_bundle / "tokenizer.json"))
    truncated.enable_truncation(5)
    truncated.save(str(tmp_path / "tokenizer.json"))
    short = BundleTokenizer(tmp_path / "tokenizer.json")
    assert short.library == "nanotoken" and short.fast.max_length == 5
    assert _split(*short.flat(texts)) == _reference_ids(tmp_path / "tokenizer.json", texts)

    assert BundleTokenizer(st_unigram / "tokenizer.json").library == "tokenizers"  # not WordPiece
    monkeypatch.setenv("STATIC_EDGE_TOKENIZER", "tokenizers")
    assert BundleTokenizer(st_bundle / "tokenizer.json").library == "tokenizers"
