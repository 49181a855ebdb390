"""Consumers that load a bundle unmodified: fastembed (Python, onnxruntime). transformers.js is in test_browser."""

from __future__ import annotations

import numpy as np
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.bundle import VARIANT_FILES
from static_edge.runtimes.parity_texts import PARITY_TEXTS


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_fastembed_loads_the_bundle_and_gives_our_vectors(st_bundle, variant):
    """Fastembed loads the bundle and gives our vectors."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    name = f"static-edge/test-{variant}"
    manifest = load(st_bundle, variant=variant).manifest
    TextEmbedding.add_custom_model(
        model=name,
        pooling=PoolingType.MEAN,
        normalization=manifest.normalize,
        sources=ModelSource(hf=name),
        dim=manifest.dims,
        model_file=VARIANT_FILES[variant],
    )
    model = TextEmbedding(model_name=name, specific_model_path=str(st_bundle))
    texts = [t for t in PARITY_TEXTS if t.strip()]  # fastembed's mean pooling divides by zero tokens on empty text
    theirs = np.array(list(model.embed(texts)))
    ours = load(st_bundle, variant=variant).encode(texts)
    assert theirs.shape == ours.shape
    assert np.abs(theirs - ours).max() <= 1e-5
