"""Properties that must hold for any input (issue 9): random Unicode texts, lengths and batch splits give finite
vectors, numpy equals onnxruntime, and a text's vector does not depend on the batch it was encoded in."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from static_edge.exporter.check import numpy_tolerance
from static_edge.runtimes import load
from static_edge.runtimes.errors import InputError

# hypothesis keeps caches in ./.hypothesis unless told otherwise: keep the working tree clean
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "static-edge-hypothesis"))
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, database=None)  # no .hypothesis folder in the tree

# Any Unicode text hypothesis can build (it never produces lone surrogates: those have their own property),
# plus the edge cases: empty, whitespace only, control characters, and long texts made by repetition.
short_texts = st.text(max_size=60)
edge_texts = st.sampled_from(["", " ", "\n\t", "\x00", "\u200b", "\ufeff", "a\u0301", "\U0001f600" * 30, "[UNK]"])
long_texts = st.builds(lambda text, times: text * times, st.text(min_size=1, max_size=12), st.integers(50, 400))
texts_strategy = st.lists(st.one_of(short_texts, short_texts, edge_texts, long_texts), min_size=1, max_size=24)


@pytest.fixture(scope="module")
def models(st_bundle):
    """The bundle loaded as fp32 and int8 on both backends."""
    return {
        (variant, backend): load(st_bundle, variant, backend=backend)
        for variant in ("fp32", "int8")
        for backend in ("onnxruntime", "numpy")
    }


def _tolerance(models, texts: list[str], variant: str) -> float:
    longest = max(len(ids) for ids in models["fp32", "numpy"].tokenizer.encode(texts))
    return numpy_tolerance(longest, models[variant, "numpy"].largest_value())


@PROPERTY_SETTINGS
@given(texts=texts_strategy, variant=st.sampled_from(["fp32", "int8"]))
def test_vectors_are_finite_and_numpy_equals_onnxruntime(models, texts, variant):
    """Vectors are finite and numpy equals onnxruntime."""
    ort = models[variant, "onnxruntime"].encode(texts)
    npy = models[variant, "numpy"].encode(texts)
    assert ort.shape == npy.shape == (len(texts), 128)
    assert np.isfinite(ort).all() and np.isfinite(npy).all()
    assert np.abs(ort - npy).max() <= _tolerance(models, texts, variant)


@PROPERTY_SETTINGS
@given(
    texts=texts_strategy,
    batch_size=st.integers(1, 30),
    backend=st.sampled_from(["onnxruntime", "numpy"]),
    order=st.randoms(use_true_random=False),
)
def test_vectors_do_not_depend_on_batch_size_or_composition(models, texts, batch_size, backend, order):
    """Vectors do not depend on batch size or composition."""
    model = models["fp32", backend]
    reference = model.encode(texts, batch_size=len(texts))
    tolerance = _tolerance(models, texts, "fp32")
    assert np.abs(model.encode(texts, batch_size=batch_size) - reference).max() <= tolerance
    permutation = list(range(len(texts)))
    order.shuffle(permutation)
    shuffled = model.encode([texts[i] for i in permutation], batch_size=batch_size)
    assert np.abs(shuffled - reference[permutation]).max() <= tolerance
    alone = np.stack([model.encode([text])[0] for text in texts[:4]])
    assert np.abs(alone - reference[:4]).max() <= tolerance


@PROPERTY_SETTINGS
@given(
    before=st.lists(st.text(max_size=20), max_size=5),
    after=st.lists(st.text(max_size=20), max_size=5),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    prefix=st.text(max_size=10),
)
def test_a_lone_surrogate_is_refused_naming_its_text(models, before, after, surrogate, prefix):
    """A lone surrogate is refused naming its text."""
    texts = [*before, prefix + surrogate, *after]
    with pytest.raises(InputError, match=rf"texts\[{len(before)}\] holds a lone surrogate"):
        models["fp32", "numpy"].encode(texts)
